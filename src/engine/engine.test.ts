// The engine facade on a generated tiny model: sessions (batched extend, rollback), generation whole
// and split, seeded sampling, teacher-forced top-K, and the errors a caller can run into.
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../../tools/models/registry.ts';
import { Engine, type GenerateRequest } from './engine.ts';
import { topLogprobs } from './logprobs.ts';
import { openPipeline } from './pipeline.ts';
import { argmax } from './top-k.ts';

let path: string;
let engine: Engine;
const PROMPT = 'Once upon a time, in a land far away';

const opened: Engine[] = [];
const load = async (...a: Parameters<typeof Engine.load>) => {
  const e = await Engine.load(...a);
  opened.push(e);
  return e;
};

beforeAll(async () => {
  path = await ensureModel('tiny-llama-f32');
  engine = await load(path);
});
afterAll(async () => {
  for (const e of opened) await e.close();
});

/** Bit-for-bit equality without toEqual's cost on a million floats. */
function differing(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

async function tokensOf(e: Engine, req: Partial<GenerateRequest>): Promise<number[]> {
  const out: number[] = [];
  for await (const ev of e.generate({ promptTokens: e.tokenize(PROMPT), maxTokens: 8, ...req })) if (ev.type === 'token') out.push(ev.token);
  return out;
}

describe('engine sessions', () => {
  it('tokenizes with the model BOS rule', () => {
    const ids = engine.tokenize(PROMPT);
    expect(ids[0]).toBe(engine.tokenizer.special.bos);
    expect(engine.detokenize(ids.slice(1))).toBe(PROMPT);
  });

  it('extend gives the pipeline logits; "last" gives the last row; batches of any size agree', async () => {
    const ids = engine.tokenize(PROMPT);
    const nV = engine.config.nVocab;
    const want = await (await openPipeline(engine.model)).createSession().forward(ids);
    const s = engine.createSession();
    expect(differing(await s.extend(ids), want)).toBe(0);
    s.free();
    const last = engine.createSession();
    expect(differing(await last.extend(ids, { logits: 'last' }), want.subarray((ids.length - 1) * nV))).toBe(0);
    const small = await load(path, { batchSize: 3 });
    expect(differing(await small.createSession().extend(ids), want)).toBe(0);
  });

  it('truncate rolls back: a rejected draft leaves no trace in the next logits', async () => {
    const ids = engine.tokenize(PROMPT);
    const s = engine.createSession();
    await s.extend(ids.slice(0, 5));
    const verify = await s.extend(ids.slice(5, 8)); // a "draft" of three tokens scored in one batch
    s.truncate(6); // accept one of them
    expect(s.length).toBe(6);
    expect(s.tokens).toEqual(ids.slice(0, 6));
    const again = await s.extend(ids.slice(6, 8));
    const nV = engine.config.nVocab;
    let worst = 0;
    for (let i = 0; i < 2 * nV; i++) worst = Math.max(worst, Math.abs(again[i] - verify[nV + i]));
    expect(worst).toBeLessThan(1e-5);
    expect(() => s.truncate(99)).toThrow(/cannot truncate/);
    s.free();
    await expect(s.extend([1])).rejects.toMatchObject({ code: 'engine_session_freed' });
  });

  it('refuses a batch that overflows the context before running any of it', async () => {
    const e = await load(path, { maxPositions: 6 });
    const s = e.createSession();
    await s.extend([1, 2, 3, 4]);
    await expect(s.extend([5, 6, 7])).rejects.toMatchObject({ code: 'engine_context_overflow', message: /4 tokens held, 3 more requested, the limit is 6/ });
    expect(s.length).toBe(4);
  });
});

describe('engine generation and scoring', () => {
  it('greedy generation follows the argmax of the logits, and split stages give the same tokens', async () => {
    const got = await tokensOf(engine, { sampling: { temperature: 0 } });
    expect(got.length).toBe(8);
    // The same chain computed by hand from teacher-forced logits.
    const ids = engine.tokenize(PROMPT);
    const s = engine.createSession();
    let row = await s.extend(ids, { logits: 'last' });
    const want: number[] = [];
    for (let i = 0; i < 8; i++) {
      want.push(argmax(row));
      row = await s.extend([want[i]], { logits: 'last' });
    }
    expect(got).toEqual(want);
    const split = await load(path, { split: '0:1,1:2' });
    expect(split.ranges).toEqual([
      [0, 1],
      [1, 2],
    ]);
    expect(await tokensOf(split, { sampling: { temperature: 0 } })).toEqual(got);
  });

  it('a seed makes sampling reproducible', async () => {
    const sampling = { temperature: 1.5, seed: 11 };
    const a = await tokensOf(engine, { sampling });
    expect(await tokensOf(engine, { sampling })).toEqual(a);
    expect(await tokensOf(engine, { sampling: { ...sampling, seed: 12 } })).not.toEqual(a);
  });

  it('logits() reports the top-K of the full distribution at every prompt position', async () => {
    const ids = engine.tokenize(PROMPT);
    const top = await engine.logits(ids, 4);
    expect(top.length).toBe(ids.length);
    const all = await engine.createSession().extend(ids);
    const nV = engine.config.nVocab;
    top.forEach((row, i) => {
      const want = topLogprobs(all, 4, i * nV, nV);
      expect(row.map((t) => t.id)).toEqual(want.map((t) => t.id));
      row.forEach((t, j) => expect(t.logprob).toBeCloseTo(want[j].logprob, 9));
    });
    await expect(engine.logits(ids, 0)).rejects.toThrow(/topK must be a positive integer/);
  });
});

describe('engine loading errors', () => {
  it('names the missing file, the bad file and the unavailable backend', async () => {
    await expect(Engine.load('/nonexistent/model.gguf')).rejects.toMatchObject({ code: 'engine_model_unreadable', message: /does not exist/ });
    const dir = mkdtempSync(join(tmpdir(), 'engine-test-'));
    writeFileSync(join(dir, 'bad.gguf'), 'this is not a model at all');
    await expect(Engine.load(join(dir, 'bad.gguf'))).rejects.toMatchObject({ code: 'gguf_bad_magic' });
    writeFileSync(join(dir, 'short.gguf'), readFileSync(path).subarray(0, 3_000_000));
    await expect(Engine.load(join(dir, 'short.gguf'))).rejects.toThrow(/truncated/);
    await expect(Engine.load(path, { backend: 'webgpu' })).rejects.toMatchObject({ code: 'engine_backend_unavailable', message: /not available/ });
    await expect(Engine.load(path, { split: '0:1,2:2' })).rejects.toMatchObject({ code: 'engine_bad_range' });
  });
});
