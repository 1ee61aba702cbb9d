// qwen2moe (shared expert behind a sigmoid gate, no renormalisation) and qwen3moe (q/k norm,
// renormalised top-k) against llama.cpp: teacher-forced top-5 log-probs on the reference and WASM
// backends, whole, split into layer-range stages, and loaded from a 3-shard split GGUF.
import { afterAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../../tools/models/registry.ts';
import { ensureSplitModel } from '../../tools/models/split.ts';
import { disposeReferenceRuntime, referenceRun, type ReferenceResult } from '../../tools/reference/reference.ts';
import { Engine, type BackendName } from './engine.ts';
import { logSoftmax } from './logprobs.ts';

const PROMPT = 'The quick brown fox jumps over the lazy dog. Once upon a time';
/** The engine's bar for F16 weights (see parity.test.ts): the reference reproduces ggml's roundings. */
const TOLERANCE = 5e-3;
const engines: Engine[] = [];

afterAll(async () => {
  for (const e of engines) await e.close();
  await disposeReferenceRuntime();
});

async function worstError(
  model: string,
  ref: ReferenceResult,
  opts: { backend?: BackendName; split?: string } = {},
): Promise<{ worst: number; logits: Float32Array }> {
  const engine = await Engine.load(model, opts);
  engines.push(engine);
  expect(engine.tokenize(PROMPT)).toEqual(ref.promptTokens);
  const logits = await engine.createSession().extend(ref.promptTokens, { logits: 'all' });
  const nVocab = engine.config.nVocab;
  let worst = 0;
  ref.positions.forEach((top, i) => {
    const lp = logSoftmax(logits, i * nVocab, nVocab);
    if (top[0].logprob - top[1].logprob > 0.05) {
      let best = 0;
      for (let v = 1; v < nVocab; v++) if (lp[v] > lp[best]) best = v;
      expect(best, `argmax at position ${i}`).toBe(top[0].id);
    }
    for (const t of top) worst = Math.max(worst, Math.abs(lp[t.id] - t.logprob));
  });
  return { worst, logits };
}

describe.each(['tiny-qwen2moe-f16', 'tiny-qwen3moe-f16'])('%s vs llama.cpp', (name) => {
  it(`top-5 log-probs within ${TOLERANCE} on ref and cpu, whole, in 2 stages, and from 3 GGUF shards`, async () => {
    const path = await ensureModel(name);
    const ref = await referenceRun({ modelPath: path, prompt: PROMPT, topK: 5 });
    expect(ref.promptTokens.length).toBeGreaterThan(10);
    const whole = await worstError(path, ref);
    expect(whole.worst).toBeLessThan(TOLERANCE);
    const staged = await worstError(path, ref, { split: '0:1,1:2' });
    expect(staged.worst).toBe(whole.worst);
    const shards = await worstError(ensureSplitModel(name, 3)[0], ref);
    expect(shards.worst).toBe(whole.worst);
    const cpu = await worstError(path, ref, { backend: 'cpu', split: '0:1,1:2' });
    expect(cpu.worst).toBeLessThan(TOLERANCE);
  });
});
