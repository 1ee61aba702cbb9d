// The trained pair (tools/train/, models/): both load in llama.cpp and in our engine, tokenize alike,
// and agree teacher-forced with llama.cpp; the draft speeds the target up without changing a greedy
// token. Prints the draft's mean accepted tokens per verification pass on KJV-style prompts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel, TRAINED_MODELS } from '../../tools/models/registry.ts';
import { ensureTrainedF32Twin } from '../../tools/models/trained.ts';
import { disposeReferenceRuntime, referenceRun } from '../../tools/reference/reference.ts';
import { emptySpeculativeStats } from './drafter.ts';
import { Engine, type GenerateRequest } from './engine.ts';
import { generateTokens } from './generate.ts';
import { logSoftmax } from './logprobs.ts';
import { ModelDrafter } from './model-drafter.ts';
import { argmax } from './top-k.ts';

const TARGET = 'kjv-llama-16m-q8_0';
const DRAFT = 'kjv-llama-3m-q8_0';
const PARITY_PROMPT = 'And God said, Let there be light: and there was light. And God saw the light, that it was good';
const PROMPTS = ['In the beginning God created', 'And the LORD spake unto Moses, saying,', 'Blessed are the poor in spirit:', 'The LORD is my shepherd;'];
/**
 * Bars. The F32 twin (the Q8_0 weights dequantized, tools/models/trained.ts) has no activation
 * rounding, so it is held to the 5e-3 at every position: that proves the layout, the tokenizer
 * and the weights are llama.cpp's. The Q8_0 files round activations to int8 before every dot product,
 * and once a last-bit difference flips one rounding (see parity.test.ts) the KV cache carries it to
 * every later position (cpu-parity.test.ts, DEEP_TOLERANCE, bounds the 8-layer benchmark model at
 * max 0.3 / median 0.15). Measured on these files: see MODEL_CARD.md; held at Q8_BOUND.
 */
const TOLERANCE = 5e-3;
const Q8_BOUND = { max: 3e-2, median: 1e-2 };
const GREEDY = { temperature: 0, seed: 1 };

afterAll(() => disposeReferenceRuntime());

async function worstAgainstLlamaCpp(path: string) {
  const ref = await referenceRun({ modelPath: path, prompt: PARITY_PROMPT, topK: 5, greedySteps: 8 });
  const engine = await Engine.load(path, { backend: 'cpu' });
  try {
    expect(engine.tokenize(PARITY_PROMPT)).toEqual(ref.promptTokens);
    const nVocab = engine.config.nVocab;
    const logits = await engine.createSession().extend(ref.promptTokens, { logits: 'all' });
    const worst = ref.positions.map((top, i) => {
      const lp = logSoftmax(logits, i * nVocab, nVocab);
      if (top[0].logprob - top[1].logprob > 0.05) expect(argmax(lp), `argmax at ${i}`).toBe(top[0].id);
      return Math.max(...top.map((t) => Math.abs(lp[t.id] - t.logprob)));
    });
    // llama.cpp's greedy continuation, up to its first near-tie (where correct engines may differ)
    const clear = ref.greedy.findIndex((g) => g.margin < 0.05);
    const want = ref.greedy.slice(0, clear < 0 ? undefined : clear).map((g) => g.token);
    const greedy: number[] = [];
    for await (const ev of engine.generate({ promptTokens: ref.promptTokens, maxTokens: want.length, sampling: GREEDY }))
      if (ev.type === 'token') greedy.push(ev.token);
    expect(greedy).toEqual(want);
    return { worst, detail: worst.map((w) => w.toExponential(1)).join(' '), greedySteps: want.length };
  } finally {
    await engine.close();
  }
}

describe('the trained pair against llama.cpp', () => {
  it.each(TRAINED_MODELS.map((m) => m.name))(
    '%s: llama.cpp’s tokens and greedy tokens; top-5 log-probs within 5e-3 (F32 twin) and the Q8_0 bound',
    async (name) => {
      const model = TRAINED_MODELS.find((m) => m.name === name)!;
      const twin = await worstAgainstLlamaCpp(ensureTrainedF32Twin(model));
      console.log(`${name} F32 twin: worst |ours - llama.cpp| per position ${twin.detail}`);
      expect(Math.max(...twin.worst), twin.detail).toBeLessThan(TOLERANCE);
      const q8 = await worstAgainstLlamaCpp(await ensureModel(name));
      console.log(`${name} Q8_0: worst |ours - llama.cpp| per position ${q8.detail}; greedy equal for ${q8.greedySteps} clear steps`);
      const sorted = [...q8.worst].sort((a, b) => a - b);
      expect(sorted.at(-1)!, q8.detail).toBeLessThan(Q8_BOUND.max);
      expect(sorted[Math.floor(sorted.length / 2)], q8.detail).toBeLessThan(Q8_BOUND.median);
    },
    180_000,
  );
});

describe('the trained draft model', () => {
  let target: Engine;
  let draft: Engine;
  beforeAll(async () => {
    target = await Engine.load(await ensureModel(TARGET), { backend: 'cpu' });
    draft = await Engine.load(await ensureModel(DRAFT), { backend: 'cpu' });
  });
  afterAll(async () => {
    await target?.close();
    await draft?.close();
  });

  async function run(prompt: string, speculative: boolean) {
    const session = target.createSession();
    const drafter = speculative ? new ModelDrafter(draft.createSession()) : undefined;
    const stats = emptySpeculativeStats();
    try {
      const req: GenerateRequest = {
        promptTokens: target.tokenize(prompt),
        maxTokens: 48,
        sampling: GREEDY,
        ...(drafter ? { speculative: { drafter, stats } } : {}),
      };
      const tokens: number[] = [];
      for await (const ev of generateTokens(session, target.tokenizer, req)) if (ev.type === 'token') tokens.push(ev.token);
      return { tokens, stats };
    } finally {
      drafter?.free();
      session.free();
    }
  }

  it('leaves greedy output unchanged and reports its acceptance on KJV-style prompts', async () => {
    const total = emptySpeculativeStats();
    for (const prompt of PROMPTS) {
      const plain = await run(prompt, false);
      const spec = await run(prompt, true);
      expect(spec.tokens).toEqual(plain.tokens);
      console.log(
        `${JSON.stringify(prompt)} -> ${JSON.stringify(target.tokenizer.detokenize(plain.tokens))}: ${spec.stats.accepted}/${spec.stats.drafted} drafted tokens accepted in ${spec.stats.passes} passes`,
      );
      total.drafted += spec.stats.drafted;
      total.accepted += spec.stats.accepted;
      total.passes += spec.stats.passes;
    }
    console.log(
      `trained pair: mean accepted tokens per verification ${(total.accepted / total.passes).toFixed(2)} (${total.accepted}/${total.drafted} drafted accepted, ${total.passes} passes)`,
    );
    expect(total.accepted).toBeLessThanOrEqual(total.drafted);
    // Greedy drafts of the distilled draft (top-1 agreement 76% on held-out verses, MODEL_CARD.md):
    // 1.29 here. Drafts drawn at temperature 1 (ModelDrafter's old default) gave 0.15-0.29.
    expect(total.accepted / total.passes).toBeGreaterThan(0.8);
  }, 120_000);
});
