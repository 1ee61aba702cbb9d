// Split GGUFs (gguf-split shards) in the engine: a model split into 3 shards gives the same logits as the
// unsplit file, from paths and from URLs (Range requests), and llama.cpp loads the same shards.
import { copyFileSync, createReadStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../../tools/models/registry.ts';
import { ensureSplitModel } from '../../tools/models/split.ts';
import { disposeReferenceRuntime, referenceRun } from '../../tools/reference/reference.ts';
import { Engine } from './engine.ts';

const PROMPT = 'The quick brown fox jumps over the lazy dog.';
const NAME = 'tiny-llama-f32';
const opened: Engine[] = [];
let server: Server;
let base = '';
let rangeRequests = 0;

async function logitsOf(model: string, opts: Parameters<typeof Engine.load>[1] = {}): Promise<{ tokens: number[]; logits: Float32Array }> {
  const e = await Engine.load(model, opts);
  opened.push(e);
  const tokens = e.tokenize(PROMPT);
  return { tokens, logits: await e.createSession().extend(tokens, { logits: 'all' }) };
}

function differing(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

beforeAll(async () => {
  const dir = dirname(ensureSplitModel(NAME, 3)[0]);
  // A static server with Range support over the split models' folder.
  server = createServer((req, res) => {
    const path = join(dir, basename(decodeURIComponent(new URL(req.url!, 'http://x').pathname)));
    let size: number;
    try {
      size = statSync(path).size;
    } catch {
      res.writeHead(404).end();
      return;
    }
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'content-length': size }).end();
      return;
    }
    const m = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '');
    if (!m) {
      res.writeHead(200, { 'content-length': size });
      createReadStream(path).pipe(res);
      return;
    }
    rangeRequests++;
    const a = Number(m[1]),
      b = Math.min(Number(m[2]), size - 1);
    res.writeHead(206, { 'content-range': `bytes ${a}-${b}/${size}`, 'content-length': b - a + 1 });
    createReadStream(path, { start: a, end: b }).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const e of opened) await e.close();
  await new Promise<void>((r) => server.close(() => r()));
  await disposeReferenceRuntime();
});

describe('split GGUF models', () => {
  it('give bit-identical logits to the unsplit file, from any shard’s path, whole and in stages', async () => {
    const whole = await logitsOf(await ensureModel(NAME));
    const shards = ensureSplitModel(NAME, 3);
    expect(shards.map((p) => basename(p))).toEqual([1, 2, 3].map((i) => `${NAME}-split3-0000${i}-of-00003.gguf`));
    for (const entry of [shards[0], shards[2]]) {
      const split = await logitsOf(entry);
      expect(split.tokens).toEqual(whole.tokens);
      expect(differing(split.logits, whole.logits)).toBe(0);
    }
    const staged = await logitsOf(shards[0], { split: '0:1,1:2' });
    expect(differing(staged.logits, whole.logits)).toBe(0);
  });

  it('load from a URL with Range requests', async () => {
    const whole = await logitsOf(await ensureModel(NAME));
    rangeRequests = 0;
    const remote = await logitsOf(`${base}/${NAME}-split3-00001-of-00003.gguf`);
    expect(differing(remote.logits, whole.logits)).toBe(0);
    expect(rangeRequests).toBeGreaterThan(3); // headers of 3 shards, then tensors
  });

  it('load in llama.cpp from the first shard, with the unsplit file’s log-probs', async () => {
    const shards = ensureSplitModel(NAME, 3);
    const split = await referenceRun({ modelPath: shards[0], prompt: PROMPT, topK: 5, noCache: true });
    const whole = await referenceRun({ modelPath: await ensureModel(NAME), prompt: PROMPT, topK: 5 });
    expect(split.promptTokens).toEqual(whole.promptTokens);
    expect(split.positions).toEqual(whole.positions);
  });

  it('name a missing shard', async () => {
    const shards = ensureSplitModel(NAME, 3);
    const dir = mkdtempSync(join(tmpdir(), 'split-'));
    for (const i of [0, 2]) copyFileSync(shards[i], join(dir, basename(shards[i])));
    await expect(Engine.load(join(dir, basename(shards[0])))).rejects.toMatchObject({
      code: 'gguf_split_missing',
      message: expect.stringContaining(`shard 2 of 3 (${NAME}-split3-00002-of-00003.gguf)`),
    });
    rmSync(dir, { recursive: true });
  });
});
