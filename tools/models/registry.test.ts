// The generated models are what llama.cpp's loader expects: names, shapes, types, metadata, the real
// tokenizer, Q4_K_M's layout; generation is deterministic and the cache regenerates stale files.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { GgmlType, ggmlTypeName } from '../../src/gguf/ggml-types.ts';
import { parseGgufHeader, type GgufHeader } from '../../src/gguf/reader.ts';
import { dequantizeRow } from '../../src/gguf/quant/index.ts';
import { encodeGguf } from '../../src/gguf/writer.ts';
import { vocabPath } from '../llama-source.ts';
import { buildModel, tensorType } from './build.ts';
import { ensureModel, MODELS, modelSpec } from './registry.ts';
import { VOCAB_SIZE } from './spec.ts';

const headers = new Map<string, { header: GgufHeader; bytes: Uint8Array }>();
async function load(name: string) {
  let hit = headers.get(name);
  if (!hit) {
    const bytes = new Uint8Array(readFileSync(await ensureModel(name)));
    hit = { header: parseGgufHeader(bytes), bytes };
    headers.set(name, hit);
  }
  return hit;
}

function tensor(h: GgufHeader, name: string) {
  const t = h.tensors.find((x) => x.name === name);
  if (!t) throw new Error(`no tensor ${name}`);
  return t;
}

describe('test model registry', () => {
  it('names are unique and cover every type, arch and tag the issue asks for', () => {
    expect(new Set(MODELS.map((m) => m.name)).size).toBe(MODELS.length);
    const types = new Set(MODELS.map((m) => m.type));
    for (const t of ['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'Q5_0', 'Q4_K', 'Q5_K', 'Q6_K', 'Q4_K_M']) expect(types).toContain(t);
    expect(new Set(MODELS.map((m) => m.arch))).toEqual(new Set(['llama', 'qwen2', 'qwen3', 'qwen2moe', 'qwen3moe']));
    for (const tag of ['tiny', 'types', 'qwen', 'moe', 'draft', 'bench', 'real']) expect(MODELS.some((m) => m.tags.includes(tag as never))).toBe(true);
    for (const m of MODELS.filter((x) => x.tags.includes('tiny') && x.vocab === 'llama-spm')) expect(m.params).toBeLessThan(5e6);
    const bench = MODELS.filter((m) => m.tags.includes('bench') && !m.draftFor);
    expect(bench.map((m) => m.type).sort()).toEqual(['F16', 'Q8_0']);
    for (const m of bench) expect(m.params).toBeGreaterThan(50e6);
    for (const d of MODELS.filter((m) => m.tags.includes('draft'))) {
      const target = modelSpec(d.draftFor!);
      expect(d.vocab).toBe(target.vocab);
      expect(d.params).toBeLessThan(target.params);
    }
  });
});

describe.each(['tiny-llama-q8_0', 'tiny-qwen2-f16', 'tiny-qwen3-q8_0', 'tiny-moe-f16', 'tiny-qwen2moe-f16', 'tiny-qwen3moe-f16', 'small-llama-q4_k_m'])(
  '%s',
  (name) => {
    it('has the tensors, shapes and metadata llama.cpp loads, and its parameter count', async () => {
      const spec = modelSpec(name);
      const { header: h } = await load(name);
      const a = spec.arch;
      const s = spec.shape;
      const hd = s.embd / s.heads;
      const meta = (k: string) => h.metadata.get(k);
      expect(meta('general.architecture')).toBe(a);
      expect(meta('general.file_type')).toBe(spec.fileType);
      expect(meta(`${a}.embedding_length`)).toBe(s.embd);
      expect(meta(`${a}.block_count`)).toBe(s.layers);
      expect(meta(`${a}.attention.head_count`)).toBe(s.heads);
      expect(meta(`${a}.attention.head_count_kv`)).toBe(s.kvHeads);
      expect(meta(`${a}.feed_forward_length`)).toBe(s.ff);
      expect(meta(`${a}.rope.dimension_count`)).toBe(hd);
      expect(typeof meta(`${a}.attention.layer_norm_rms_epsilon`)).toBe('number');
      const v = VOCAB_SIZE[spec.vocab];
      expect(tensor(h, 'token_embd.weight').shape).toEqual([s.embd, v]);
      expect(h.tensors.some((t) => t.name === 'output.weight')).toBe(!s.tiedOutput);
      for (let l = 0; l < s.layers; l++) {
        expect(tensor(h, `blk.${l}.attn_q.weight`).shape).toEqual([s.embd, s.embd]);
        expect(tensor(h, `blk.${l}.attn_k.weight`).shape).toEqual([s.embd, s.kvHeads * hd]);
        expect(tensor(h, `blk.${l}.attn_output.weight`).shape).toEqual([s.embd, s.embd]);
        expect(tensor(h, `blk.${l}.attn_norm.weight`).type).toBe(GgmlType.F32);
        if (a === 'qwen2' || a === 'qwen2moe') expect(tensor(h, `blk.${l}.attn_k.bias`).shape).toEqual([s.kvHeads * hd]);
        if (s.sharedFf) {
          expect(meta(`${a}.expert_shared_feed_forward_length`)).toBe(s.sharedFf);
          expect(tensor(h, `blk.${l}.ffn_gate_inp_shexp.weight`)).toMatchObject({ shape: [s.embd], type: GgmlType.F32 });
          expect(tensor(h, `blk.${l}.ffn_down_shexp.weight`).shape).toEqual([s.sharedFf, s.embd]);
        }
        if (a === 'qwen3' || a === 'qwen3moe') expect(tensor(h, `blk.${l}.attn_q_norm.weight`).shape).toEqual([hd]);
        if (s.experts) {
          expect(meta(`${a}.expert_count`)).toBe(s.experts);
          expect(meta(`${a}.expert_used_count`)).toBe(s.expertsUsed);
          expect(tensor(h, `blk.${l}.ffn_gate_inp.weight`)).toMatchObject({ shape: [s.embd, s.experts], type: GgmlType.F32 });
          expect(tensor(h, `blk.${l}.ffn_down_exps.weight`).shape).toEqual([s.ff, s.embd, s.experts]);
          expect(tensor(h, `blk.${l}.ffn_up_exps.weight`).shape).toEqual([s.embd, s.ff, s.experts]);
        } else {
          expect(tensor(h, `blk.${l}.ffn_down.weight`).shape).toEqual([s.ff, s.embd]);
        }
      }
      expect(h.tensors.reduce((n, t) => n + t.elements, 0)).toBe(spec.params);
    });

    it('carries the vocabulary GGUF’s tokenizer metadata unchanged', async () => {
      const { header: h } = await load(name);
      const vocab = parseGgufHeader(new Uint8Array(readFileSync(vocabPath(modelSpec(name).vocab))));
      const keys = [...vocab.metadata.keys()].filter((k) => k.startsWith('tokenizer.'));
      expect(keys.length).toBeGreaterThan(5);
      for (const k of keys) expect(h.metadata.get(k), k).toEqual(vocab.metadata.get(k));
    });
  },
);

describe('weights', () => {
  it('are deterministic: building twice gives the same bytes', () => {
    const hash = () =>
      createHash('sha256')
        .update(encodeGguf(buildModel(modelSpec('tiny-moe-f16'))))
        .digest('hex');
    expect(hash()).toBe(hash());
  });

  it('norm weights sit near 1 and embedding rows near unit RMS', async () => {
    const { header: h, bytes } = await load('tiny-llama-f32');
    const read = (name: string) => {
      const t = tensor(h, name);
      return dequantizeRow(t.type, bytes.subarray(t.fileOffset, t.fileOffset + t.byteSize), t.elements);
    };
    const norm = read('blk.0.attn_norm.weight');
    const mean = norm.reduce((a, b) => a + b) / norm.length;
    expect(mean).toBeGreaterThan(0.9);
    expect(mean).toBeLessThan(1.1);
    const embd = read('token_embd.weight');
    const rms = Math.sqrt(embd.reduce((a, b) => a + b * b, 0) / embd.length);
    expect(rms).toBeGreaterThan(0.9);
    expect(rms).toBeLessThan(1.1);
  });

  it('a draft shares its target’s embeddings, output and first layer byte for byte', async () => {
    const draft = await load('tiny-llama-draft-f32');
    const target = await load(modelSpec('tiny-llama-draft-f32').draftFor!);
    const bytesOf = (m: typeof draft, name: string) => {
      const t = tensor(m.header, name);
      return Buffer.from(m.bytes.subarray(t.fileOffset, t.fileOffset + t.byteSize));
    };
    for (const name of ['token_embd.weight', 'output.weight', 'blk.0.attn_q.weight', 'blk.0.ffn_down.weight']) {
      expect(bytesOf(draft, name).equals(bytesOf(target, name)), name).toBe(true);
    }
    expect(draft.header.tensors.some((t) => t.name.startsWith('blk.1.'))).toBe(false);
  });
});

describe('Q4_K_M layout', () => {
  it('puts output and the use_more_bits layers of attn_v/ffn_down in Q6_K, the rest in Q4_K', async () => {
    const { header: h } = await load('small-llama-q4_k_m');
    const type = (n: string) => ggmlTypeName(tensor(h, n).type);
    expect(h.metadata.get('general.file_type')).toBe(15);
    expect(type('output.weight')).toBe('Q6_K');
    expect(type('token_embd.weight')).toBe('Q4_K');
    // Two layers: use_more_bits(i, 2) holds for layer 1 only (i >= 7·2/8).
    expect([type('blk.0.attn_v.weight'), type('blk.1.attn_v.weight')]).toEqual(['Q4_K', 'Q6_K']);
    expect([type('blk.0.ffn_down.weight'), type('blk.1.ffn_down.weight')]).toEqual(['Q4_K', 'Q6_K']);
    for (const n of ['attn_q', 'attn_k', 'attn_output', 'ffn_gate', 'ffn_up']) expect(type(`blk.1.${n}.weight`)).toBe('Q4_K');
    expect(type('output_norm.weight')).toBe('F32');
  });
});

describe('Qwen2.5-0.5B shape, Q4_K_M', () => {
  const spec = modelSpec('qwen2.5-0.5b-shape-q4_k_m');
  const type = (name: string, shape: number[], layer = -1) => ggmlTypeName(tensorType(spec, name, shape.length, layer, shape[0]));

  it('has Qwen2.5-0.5B’s exact parameter count and is kept out of the default generation', () => {
    expect(spec.params).toBe(494_032_768);
    expect(spec.tags).toContain('real');
  });

  it('takes llama.cpp’s per-tensor types, with its fallbacks where rows of 896 are not whole 256-blocks', () => {
    // The tied embedding is the output: Q6_K, but Q8_0 as 896 is no multiple of Q4_K's block (llama-quant.cpp).
    expect(type('token_embd.weight', [896, 151936])).toBe('Q8_0');
    // use_more_bits(i, 24): layers 0-2, 21-23 and every third from 5: Q6_K, which falls back to Q8_0 on 896 rows.
    const more = [0, 1, 2, 5, 8, 11, 14, 17, 20, 21, 22, 23];
    for (let l = 0; l < 24; l++) {
      expect(type(`blk.${l}.attn_v.weight`, [896, 128], l), `layer ${l}`).toBe(more.includes(l) ? 'Q8_0' : 'Q5_0');
      // ffn_down's rows are 4864 = 19 super-blocks: no fallback.
      expect(type(`blk.${l}.ffn_down.weight`, [4864, 896], l), `layer ${l}`).toBe(more.includes(l) ? 'Q6_K' : 'Q4_K');
    }
    for (const [n, shape] of [
      ['attn_q', [896, 896]],
      ['attn_k', [896, 128]],
      ['attn_output', [896, 896]],
      ['ffn_gate', [896, 4864]],
      ['ffn_up', [896, 4864]],
    ] as const) {
      expect(type(`blk.3.${n}.weight`, [...shape], 3)).toBe('Q5_0');
    }
    expect(type('blk.3.attn_q.bias', [896], 3)).toBe('F32');
    expect(type('output_norm.weight', [896])).toBe('F32');
  });
});

describe('ensureModel', () => {
  it('regenerates a model whose stamp is stale, atomically, with identical bytes', async () => {
    const path = await ensureModel('tiny-llama-draft-f32');
    const before = readFileSync(path);
    writeFileSync(`${path}.stamp`, 'generator 0\n');
    const mtime = statSync(path).mtimeMs;
    await new Promise((r) => setTimeout(r, 20));
    expect(await ensureModel('tiny-llama-draft-f32')).toBe(path);
    expect(statSync(path).mtimeMs).toBeGreaterThan(mtime);
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(readFileSync(`${path}.stamp`, 'utf8')).toMatch(/^generator [1-9]/);
    const again = statSync(path).mtimeMs;
    await ensureModel('tiny-llama-draft-f32');
    expect(statSync(path).mtimeMs).toBe(again); // fresh now: not rewritten
  });

  it('names the known models when asked for an unknown one', async () => {
    await expect(ensureModel('no-such-model')).rejects.toThrow(/tiny-llama-f32/);
  });
});
