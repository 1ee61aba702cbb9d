// The harness on the tiny F32 llama: its numbers agree with llama.cpp's own softmax, the teacher-forced
// and the generation paths agree, results are deterministic and cached by the model file's identity.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Token } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGgufHeader } from '../../src/gguf/reader.ts';
import { ensureModel } from '../models/registry.ts';
import { cacheKey } from './cache.ts';
import { ReferenceHarnessError } from './errors.ts';
import { LlamaRuntime, referenceRun, type ReferenceResult } from './reference.ts';

const prompt = 'The quick brown fox jumps over the lazy dog.';
const runtime = new LlamaRuntime();
let modelPath: string;
let result: ReferenceResult;

beforeAll(async () => {
  modelPath = await ensureModel('tiny-llama-f32');
  result = await referenceRun({ modelPath, prompt, topK: 8, greedySteps: 6, noCache: true }, runtime);
});
afterAll(() => runtime.dispose());

describe('referenceRun on tiny-llama-f32', () => {
  it('tokenizes with the BOS rule from the file and gives one position per prompt token', () => {
    const bytes = readFileSync(modelPath);
    const meta = parseGgufHeader(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)).metadata;
    expect(meta.get('tokenizer.ggml.add_bos_token')).toBe(true);
    expect(result.promptTokens[0]).toBe(meta.get('tokenizer.ggml.bos_token_id'));
    expect(result.promptTokens.filter((t) => t === result.promptTokens[0])).toHaveLength(1);
    expect(result.positions).toHaveLength(result.promptTokens.length);
    expect(result.settings.nVocab).toBe((meta.get('tokenizer.ggml.tokens') as string[]).length);
    for (const top of result.positions) expect(top).toHaveLength(8);
  });

  it('matches the probabilities llama.cpp computes itself (the top-K and the forced prompt tokens), which sum to 1 over the whole vocabulary', async () => {
    const model = await runtime.model(modelPath);
    const context = await model.createContext({
      contextSize: 64,
      threads: 1,
      flashAttention: false,
      experimentalKvCacheKeyType: 'F32',
      experimentalKvCacheValueType: 'F32',
    });
    try {
      const out = await context.getSequence().controlledEvaluate(result.promptTokens.map((t) => [t as Token, { generateNext: { probabilities: true } }]));
      out.forEach((o, i) => {
        const probs = o?.next.probabilities;
        expect(probs?.size).toBe(result.settings.nVocab);
        let sum = 0;
        for (const p of probs!.values()) sum += p;
        // The addon divides by a float32 sum over 32k terms: off by ~1e-4, which is why the harness
        // does its own float64 log-softmax. Renormalized, each probability must agree to float32 precision.
        expect(Math.abs(sum - 1)).toBeLessThan(1e-3);
        for (const { id, logprob } of result.positions[i]) {
          const p = probs!.get(id as Token)! / sum;
          expect(Math.abs(Math.exp(logprob) - p) / p).toBeLessThan(1e-5);
        }
        // The forced token (the prompt's next one), wherever it ranks.
        if (i + 1 < result.promptTokens.length) {
          const p = probs!.get(result.promptTokens[i + 1] as Token)! / sum;
          expect(Math.abs(Math.exp(result.promptLogprobs[i]) - p) / p).toBeLessThan(1e-5);
        }
      });
      expect(result.promptLogprobs).toHaveLength(result.promptTokens.length - 1);
    } finally {
      await context.dispose();
    }
  });

  it('has sorted top-K lists, non-positive log-probabilities and non-negative margins', () => {
    for (const top of [...result.positions, ...result.greedy.map((g) => g.top)]) {
      for (let i = 0; i < top.length; i++) {
        expect(top[i].logprob).toBeLessThanOrEqual(0);
        if (i > 0) expect(top[i - 1].logprob).toBeGreaterThanOrEqual(top[i].logprob);
      }
    }
    expect(result.greedy).toHaveLength(6);
    for (const step of result.greedy) {
      expect(step.token).toBe(step.top[0].id);
      expect(step.margin).toBeGreaterThanOrEqual(0);
      expect(step.margin).toBeCloseTo(step.top[0].logprob - step.top[1].logprob, 12);
    }
  });

  it('starts the greedy continuation from the teacher-forced distribution at the last position', () => {
    // Separate llama.cpp passes (logits everywhere vs at the end only): equal up to float32 rounding.
    const last = result.positions.at(-1)!;
    const first = result.greedy[0].top;
    expect(first.map((t) => t.id)).toEqual(last.map((t) => t.id));
    first.forEach((t, i) => expect(Math.abs(t.logprob - last[i].logprob)).toBeLessThan(1e-4));
  });

  it('is deterministic, and independent of the thread count', async () => {
    const again = await referenceRun({ modelPath, prompt, topK: 8, greedySteps: 6, noCache: true }, runtime);
    expect(again).toEqual(result);
    const twoThreads = await referenceRun({ modelPath, prompt, topK: 8, greedySteps: 6, noCache: true, threads: 2 }, runtime);
    expect(twoThreads.positions).toEqual(result.positions);
    expect(twoThreads.greedy).toEqual(result.greedy);
  });

  it('appends greedy tokens that teacher-forced evaluation scores the same way', async () => {
    // Feeding prompt + greedy tokens back through the teacher-forced path must reproduce each step's argmax.
    const model = await runtime.model(modelPath);
    const context = await model.createContext({
      contextSize: 64,
      threads: 1,
      flashAttention: false,
      experimentalKvCacheKeyType: 'F32',
      experimentalKvCacheValueType: 'F32',
    });
    try {
      const tokens = [...result.promptTokens, ...result.greedy.slice(0, -1).map((g) => g.token)];
      const out = await context.getSequence().controlledEvaluate(tokens.map((t) => [t as Token, { generateNext: { token: true } }]));
      const forced = out.slice(result.promptTokens.length - 1).map((o) => o?.next.token);
      expect(forced).toEqual(result.greedy.map((g) => g.token));
    } finally {
      await context.dispose();
    }
  });
});

describe('reference cache', () => {
  it('answers a repeated question from .cache/reference without llama.cpp', async () => {
    const fresh = new LlamaRuntime();
    const first = await referenceRun({ modelPath, prompt: 'cache me', greedySteps: 2 }, runtime);
    const started = performance.now();
    const second = await referenceRun({ modelPath, prompt: 'cache me', greedySteps: 2 }, fresh);
    expect(second).toEqual(first);
    expect(performance.now() - started).toBeLessThan(200); // a llama.cpp load alone takes longer
    await fresh.dispose();
  });

  it('keys on the prompt, the options and the model file identity', () => {
    const dir = mkdtempSync(join(tmpdir(), 'reference-cache-'));
    try {
      const copy = join(dir, 'model.gguf');
      copyFileSync(modelPath, copy);
      const q = { prompt: 'a', topK: 5 };
      const key = cacheKey(copy, q);
      expect(cacheKey(copy, q)).toBe(key);
      expect(cacheKey(copy, { prompt: 'b', topK: 5 })).not.toBe(key);
      expect(cacheKey(copy, { prompt: 'a', topK: 6 })).not.toBe(key);
      expect(cacheKey(modelPath, q)).not.toBe(key);
      utimesSync(copy, new Date(), new Date(Date.now() + 5000)); // regenerated model
      expect(cacheKey(copy, q)).not.toBe(key);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('reference errors', () => {
  it('says how to fix a missing model', async () => {
    const error = await referenceRun({ modelPath: '/nonexistent/model.gguf', prompt: 'x' }, runtime).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReferenceHarnessError);
    expect((error as ReferenceHarnessError).code).toBe('reference_model_missing');
    expect((error as Error).message).toMatch(/npm run models/);
  });

  it('refuses bad options and a context too small for the question', async () => {
    await expect(referenceRun({ modelPath, prompt: 'x', topK: 0 }, runtime)).rejects.toMatchObject({ code: 'reference_bad_options' });
    await expect(referenceRun({ modelPath, prompt, greedySteps: 4, contextSize: 8, noCache: true }, runtime)).rejects.toMatchObject({
      code: 'reference_context_overflow',
    });
  });
});
