// What speculative verification relies on (exact-batch.ts): on the 'cpu' backend a row of an n-token
// extend() equals the one-token extend() at that position bit for bit, for every weight type and any
// n (the WASM kernels sum a row in one order however many rows they run: kernels/wasm/c/rows-legacy.h).
import { afterAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../../tools/models/registry.ts';
import { Engine } from './engine.ts';

/** [model, threads]: on two threads each thread runs its own share of the weight rows. */
const MODELS: [string, number][] = [
  ['tiny-llama-q8_0', 1],
  ['tiny-llama-q8_0', 2],
  ['tiny-llama-q4_0', 1],
  ['tiny-llama-q5_0', 2],
  ['small-llama-q4_k_m', 1],
  ['small-llama-q6_k', 1],
  ['tiny-llama-f16', 1],
  ['tiny-llama-f32', 1],
];
const PROMPT = [1, 15, 27, 300, 41, 9];
const BATCH = [12, 7, 88, 5, 19, 240, 3, 64, 101, 2, 77, 31, 8, 150, 46, 23, 9];

const engines: Engine[] = [];
afterAll(async () => {
  for (const e of engines) await e.close();
});

describe('cpu batches are row-for-row one-token runs', () => {
  it.each(MODELS)('%s on %i thread(s): rows of batches of 2..17 tokens equal one-token steps bit for bit', async (name, threads) => {
    const engine = await Engine.load(await ensureModel(name), { backend: 'cpu', threads });
    engines.push(engine);
    expect(engine.createSession().exactBatch).toBe(Number.POSITIVE_INFINITY);
    const nVocab = engine.config.nVocab;
    const steps = engine.createSession();
    await steps.extend(PROMPT, { logits: 'last' });
    const oneByOne: Float32Array[] = [];
    for (const t of BATCH) oneByOne.push(await steps.extend([t], { logits: 'last' }));
    steps.free();
    for (const n of [2, 3, 4, 5, 8, 16, 17]) {
      const s = engine.createSession();
      await s.extend(PROMPT, { logits: 'last' });
      const rows = await s.extend(BATCH.slice(0, n), { logits: 'all' });
      s.free();
      for (let i = 0; i < n; i++) {
        const row = rows.subarray(i * nVocab, (i + 1) * nVocab);
        if (!row.every((x, j) => Object.is(x, oneByOne[i][j]))) {
          const worst = Math.max(...row.map((x, j) => Math.abs(x - oneByOne[i][j])));
          expect.fail(`${name}: row ${i} of a ${n}-token batch differs from the one-token step by up to ${worst}`);
        }
      }
    }
  });
});
