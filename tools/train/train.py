# Step 2 of the recipe (MODEL_CARD.md): trains a llama-architecture model on .cache/train/*.u16 with
# Debian's python3-torch (1.13, CPU). The layout is llama.cpp's "llama" exactly: RMSNorm (eps 1e-5),
# RoPE on adjacent pairs (llama.cpp's NORM rope, so q/k need no permutation on export), grouped-query
# attention where query head h reads kv head h // (heads / kv_heads), SwiGLU, untied output.
# Writes <out>/weights.bin (float32 tensors named as in GGUF) plus <out>/manifest.json and log.jsonl.
#   nice -n 19 /usr/bin/python3 tools/train/train.py --shape target --out .cache/train/target
import argparse, json, math, os, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

SHAPES = {
    # ~15.8M parameters: 4096 x 384 embeddings in and out, 8 layers, head dim 64, 3 query heads per kv head.
    'target': dict(embd=384, layers=8, heads=6, kv_heads=2, ff=1024),
    # ~2.8M parameters: the same vocabulary, 3 layers of width 192.
    'draft': dict(embd=192, layers=3, heads=3, kv_heads=1, ff=512),
}
EPS = 1e-5
ROPE_BASE = 10000.0


class RMSNorm(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * self.weight


def rope(x, cos, sin):
    # x: [B, T, H, D]; rotates (x[2i], x[2i+1]) by pos * base^(-2i/D), as ggml_rope with mode 0.
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1).flatten(-2)


class Block(nn.Module):
    def __init__(self, s):
        super().__init__()
        d, hd = s['embd'], s['embd'] // s['heads']
        self.h, self.kvh, self.hd = s['heads'], s['kv_heads'], hd
        self.attn_norm = RMSNorm(d)
        self.attn_q = nn.Linear(d, d, bias=False)
        self.attn_k = nn.Linear(d, s['kv_heads'] * hd, bias=False)
        self.attn_v = nn.Linear(d, s['kv_heads'] * hd, bias=False)
        self.attn_output = nn.Linear(d, d, bias=False)
        self.ffn_norm = RMSNorm(d)
        self.ffn_gate = nn.Linear(d, s['ff'], bias=False)
        self.ffn_up = nn.Linear(d, s['ff'], bias=False)
        self.ffn_down = nn.Linear(s['ff'], d, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        h = self.attn_norm(x)
        q = rope(self.attn_q(h).view(B, T, self.h, self.hd), cos, sin).transpose(1, 2)
        k = rope(self.attn_k(h).view(B, T, self.kvh, self.hd), cos, sin).transpose(1, 2)
        v = self.attn_v(h).view(B, T, self.kvh, self.hd).transpose(1, 2)
        g = self.h // self.kvh
        k, v = k.repeat_interleave(g, dim=1), v.repeat_interleave(g, dim=1)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd) + mask
        y = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, -1)
        x = x + self.attn_output(y)
        h = self.ffn_norm(x)
        return x + self.ffn_down(F.silu(self.ffn_gate(h)) * self.ffn_up(h))


class Llama(nn.Module):
    def __init__(self, s, vocab, ctx):
        super().__init__()
        self.token_embd = nn.Embedding(vocab, s['embd'])
        self.blocks = nn.ModuleList(Block(s) for _ in range(s['layers']))
        self.output_norm = RMSNorm(s['embd'])
        self.output = nn.Linear(s['embd'], vocab, bias=False)
        hd = s['embd'] // s['heads']
        inv = ROPE_BASE ** (-torch.arange(0, hd, 2, dtype=torch.float64) / hd)
        ang = torch.arange(ctx, dtype=torch.float64)[:, None] * inv[None, :]
        self.register_buffer('cos', ang.cos().float()[:, None, :], persistent=False)
        self.register_buffer('sin', ang.sin().float()[:, None, :], persistent=False)
        self.register_buffer('mask', torch.full((ctx, ctx), float('-inf')).triu(1), persistent=False)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                # GPT-2 style: residual projections scaled down by depth.
                std = 0.02 / math.sqrt(2 * s['layers']) if name.endswith(('attn_output.weight', 'ffn_down.weight')) else 0.02
                nn.init.normal_(p, 0, std)

    def forward(self, idx):
        T = idx.shape[1]
        x = self.token_embd(idx)
        for b in self.blocks:
            x = b(x, self.cos[:T], self.sin[:T], self.mask[:T, :T])
        return self.output(self.output_norm(x))

    def gguf_tensors(self):
        yield 'token_embd.weight', self.token_embd.weight
        for i, b in enumerate(self.blocks):
            for n in ['attn_norm', 'attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_norm', 'ffn_gate', 'ffn_up', 'ffn_down']:
                yield f'blk.{i}.{n}.weight', getattr(b, n).weight
        yield 'output_norm.weight', self.output_norm.weight
        yield 'output.weight', self.output.weight


def save(model, out, meta):
    # torch [rows, cols] row-major is ggml's [ne0=cols, ne1=rows]: written as is.
    tensors, offset = [], 0
    with open(os.path.join(out, 'weights.bin.tmp'), 'wb') as f:
        for name, p in model.gguf_tensors():
            a = p.detach().float().contiguous().numpy()
            f.write(a.tobytes())
            tensors.append(dict(name=name, shape=list(reversed(a.shape)), offset=offset))
            offset += a.nbytes
    os.replace(os.path.join(out, 'weights.bin.tmp'), os.path.join(out, 'weights.bin'))
    with open(os.path.join(out, 'manifest.json'), 'w') as f:
        json.dump(dict(meta, tensors=tensors), f, indent=1)


def load(model, directory):
    # Weights this script saved (or tools/train/from-gguf.ts wrote); returns the tokens they were trained on.
    m = json.load(open(os.path.join(directory, 'manifest.json')))
    raw = np.fromfile(os.path.join(directory, 'weights.bin'), dtype=np.float32)
    with torch.no_grad():
        for (name, p), t in zip(model.gguf_tensors(), m['tensors']):
            assert name == t['name'], (name, t['name'])
            p.copy_(torch.from_numpy(raw[t['offset'] // 4:t['offset'] // 4 + p.numel()].reshape(p.shape)))
    return m['tokens']


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--shape', choices=SHAPES, required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--data', default='.cache/train')
    ap.add_argument('--ctx', type=int, default=256)
    ap.add_argument('--batch', type=int, default=16)
    ap.add_argument('--steps', type=int, default=1000)
    ap.add_argument('--lr', type=float, default=2e-3)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--seed', type=int, default=1611)
    ap.add_argument('--bench', type=int, default=0, help='time this many steps and exit')
    ap.add_argument('--init', help='start from the weights this script saved in that directory (a second stage)')
    ap.add_argument('--teacher', help='distil from the model whose weights this script (or from-gguf.ts) saved in that directory')
    ap.add_argument('--teacher-shape', choices=SHAPES, default='target')
    ap.add_argument('--distill', type=float, default=0.9, help='weight of the KL to the teacher (the rest: cross-entropy on the text)')
    ap.add_argument('--agreement', action='store_true', help='print how often --init\'s top token is --teacher\'s on the held-out text, and exit')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    os.makedirs(a.out, exist_ok=True)
    train = torch.from_numpy(np.fromfile(os.path.join(a.data, 'train.u16'), dtype=np.uint16).astype(np.int64))
    val = torch.from_numpy(np.fromfile(os.path.join(a.data, 'val.u16'), dtype=np.uint16).astype(np.int64))
    vocab = len(json.load(open(os.path.join(a.data, 'vocab.json')))['tokens'])
    s = SHAPES[a.shape]
    model = Llama(s, vocab, a.ctx)
    params = sum(p.numel() for p in model.parameters())
    tokens_before = load(model, a.init) if a.init else 0
    teacher = None
    if a.teacher:
        # Distillation: the draft learns the target's whole next-token distribution, which is what
        # speculative decoding accepts against, not only the text's next token.
        teacher = Llama(SHAPES[a.teacher_shape], vocab, a.ctx)
        load(teacher, a.teacher)
        teacher.eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([dict(params=decay, weight_decay=0.1), dict(params=no_decay, weight_decay=0.0)], lr=a.lr, betas=(0.9, 0.95))
    warmup = max(1, a.steps // 20)

    def batch(data, n):
        starts = rng.integers(0, len(data) - a.ctx - 1, n)
        x = torch.stack([data[i:i + a.ctx + 1] for i in starts])
        return x[:, :-1], x[:, 1:]

    @torch.no_grad()
    def val_loss():
        model.eval()
        losses = []
        for i in range(0, len(val) - a.ctx - 1, a.ctx):
            x = val[i:i + a.ctx + 1][None]
            losses.append(F.cross_entropy(model(x[:, :-1]).view(-1, vocab), x[:, 1:].reshape(-1)).item())
        model.train()
        return sum(losses) / len(losses)

    if a.agreement:
        # The draft's top-1 agreement with the target, teacher-forced on the held-out verses: greedy
        # speculative decoding accepts a drafted token exactly when the two agree.
        agree = n = 0
        model.eval()
        with torch.no_grad():
            for i in range(0, len(val) - a.ctx - 1, a.ctx):
                x = val[i:i + a.ctx][None]
                agree += (model(x).argmax(-1) == teacher(x).argmax(-1)).sum().item()
                n += x.numel()
        print(json.dumps(dict(init=a.init, teacher=a.teacher, positions=n, top1_agreement=round(agree / n, 4))))
        return
    log = open(os.path.join(a.out, 'log.jsonl'), 'w')
    print(json.dumps(dict(shape=a.shape, params=params, **s, vocab=vocab, ctx=a.ctx, batch=a.batch, steps=a.steps, lr=a.lr, threads=a.threads, init=a.init, teacher=a.teacher, distill=a.distill if a.teacher else None, tokens_before=tokens_before)), file=log, flush=True)
    steps = a.bench or a.steps
    t0 = time.time()
    tokens = 0
    for step in range(1, steps + 1):
        lr = a.lr * min(step / warmup, 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, a.steps - warmup)))) if step > warmup else step / warmup)
        for g in opt.param_groups:
            g['lr'] = lr
        x, y = batch(train, a.batch)
        logits = model(x).view(-1, vocab)
        loss = F.cross_entropy(logits, y.reshape(-1))
        if teacher is not None:
            with torch.no_grad():
                target = F.log_softmax(teacher(x).view(-1, vocab), -1)
            kl = F.kl_div(F.log_softmax(logits, -1), target, log_target=True, reduction='batchmean')
            loss = a.distill * kl + (1 - a.distill) * loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        tokens += x.numel()
        if step % 25 == 0 or step == steps:
            el = time.time() - t0
            rec = dict(step=step, tokens=tokens_before + tokens, loss=round(loss.item(), 4), lr=round(lr, 6), seconds=round(el, 1), tok_s=round(tokens / el))
            if step % 50 == 0 or step == steps:
                rec['val_loss'] = round(val_loss(), 4)
                if not a.bench:
                    save(model, a.out, dict(shape=a.shape, params=params, **s, vocab=vocab, ctx=a.ctx, step=step, tokens=tokens_before + tokens, seconds=round(el, 1), val_loss=rec['val_loss']))
            print(json.dumps(rec), file=log, flush=True)
            print(json.dumps(rec), flush=True)
    if a.bench:
        print(json.dumps(dict(params=params, tok_s=round(tokens / (time.time() - t0)))))


if __name__ == '__main__':
    main()
