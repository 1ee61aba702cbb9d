// Speculative decoding on the tiny test models: greedy output equals the plain loop's token for token
// (n-gram and draft-model drafters, 'ref' and 'cpu' backends), with stop strings, max tokens and a
// full context exact; the KV cache after rejected drafts equals a fresh run's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../../tools/models/registry.ts';
import { type Drafter, emptySpeculativeStats, type SpeculativeStats } from './drafter.ts';
import { Engine, type GenerateEvent, type GenerateRequest } from './engine.ts';
import { generateTokens } from './generate.ts';
import { ModelDrafter } from './model-drafter.ts';
import { NgramDrafter } from './ngram-drafter.ts';

const PROMPTS = [
  'one two three four, one two three four, one two three four, one two',
  'for (let i = 0; i < n; i++) { total += values[i]; }\nfor (let j = 0; j < n; j++) { total += values[j]; }\nfor (let',
  'The old lighthouse keeper climbed the spiral stairs every evening',
  'Once upon a time',
];
const GREEDY = { temperature: 0, seed: 1 }; // a seed so the done events compare equal

let target: Engine;
let draft: Engine;
let quantized: Engine;

beforeAll(async () => {
  target = await Engine.load(await ensureModel('tiny-llama-f32'));
  draft = await Engine.load(await ensureModel('tiny-llama-draft-f32'));
  quantized = await Engine.load(await ensureModel('tiny-llama-q8_0'), { backend: 'cpu' });
});
afterAll(async () => {
  await target?.close();
  await draft?.close();
  await quantized?.close();
});

type MakeDrafter = () => Drafter;
const ngram: MakeDrafter = () => new NgramDrafter();
const model: MakeDrafter = () => new ModelDrafter(draft.createSession());

async function run(e: Engine, req: Partial<GenerateRequest> & { prompt: string }, makeDrafter?: MakeDrafter, k?: number) {
  const session = e.createSession();
  const drafter = makeDrafter?.();
  const stats = emptySpeculativeStats();
  const events: GenerateEvent[] = [];
  try {
    const full: GenerateRequest = {
      promptTokens: e.tokenize(req.prompt),
      maxTokens: 32,
      sampling: GREEDY,
      ...req,
      ...(drafter ? { speculative: { drafter, k, stats } } : {}),
    };
    for await (const ev of generateTokens(session, e.tokenizer, full)) events.push(ev);
    return { events, tokens: events.flatMap((ev) => (ev.type === 'token' ? [ev.token] : [])), stats, held: [...session.tokens] };
  } finally {
    drafter?.free();
    session.free();
  }
}

describe('speculative decoding, greedy', () => {
  it.each([
    ['n-gram', ngram, 0],
    ['draft model', model, 1],
  ] as const)('gives the plain loop’s tokens and events on every prompt (%s drafter)', async (_, makeDrafter, minAccepted) => {
    const total = emptySpeculativeStats();
    for (const prompt of PROMPTS) {
      const plain = await run(target, { prompt });
      const spec = await run(target, { prompt }, makeDrafter);
      expect(spec.tokens).toEqual(plain.tokens);
      expect(spec.events).toEqual(plain.events);
      // the session is left as the plain loop leaves it: everything but the last token
      expect(spec.held).toEqual(plain.held);
      total.drafted += spec.stats.drafted;
      total.accepted += spec.stats.accepted;
    }
    // random weights follow no pattern of the prompt's: the n-gram drafter's acceptance is tested on
    // a cycling small-vocabulary model (speculative-sampling.test.ts); the one-layer draft agrees often
    expect(total.accepted).toBeGreaterThanOrEqual(minAccepted);
    expect(total.accepted).toBeLessThanOrEqual(total.drafted);
  });

  it('equals plain decoding on the cpu backend, verifying a whole draft in one batch (its rows are one-token rows bit for bit)', async () => {
    expect(quantized.createSession().exactBatch).toBe(Number.POSITIVE_INFINITY);
    for (const prompt of PROMPTS.slice(0, 3)) {
      const plain = await run(quantized, { prompt });
      const spec = await run(quantized, { prompt }, ngram, 16);
      expect(spec.tokens).toEqual(plain.tokens);
    }
  });

  it('stops exactly at max tokens and at stop strings, whatever k, and reports the same log-probs', async () => {
    const plainLong = await run(target, { prompt: PROMPTS[0], maxTokens: 40 });
    const text = plainLong.events.map((e) => e.text).join('');
    const stops = [text.slice(10, 14), text.slice(25, 27)].filter((s) => s.trim().length > 0);
    expect(stops.length).toBeGreaterThan(0);
    for (const maxTokens of [1, 2, 3, 5, 17]) {
      for (const k of [1, 4, 16]) {
        const plain = await run(target, { prompt: PROMPTS[0], maxTokens });
        const spec = await run(target, { prompt: PROMPTS[0], maxTokens }, ngram, k);
        expect(spec.events).toEqual(plain.events);
        expect(spec.tokens.length).toBeLessThanOrEqual(maxTokens);
      }
    }
    const plainLogprobs = await run(target, { prompt: PROMPTS[0], maxTokens: 12, logprobs: 3 });
    const specLogprobs = await run(target, { prompt: PROMPTS[0], maxTokens: 12, logprobs: 3 }, model, 4);
    expect(specLogprobs.stats.drafted).toBeGreaterThan(0);
    expect(specLogprobs.events).toEqual(plainLogprobs.events); // log-probs from the batch's rows included
    for (const stop of stops) {
      const plain = await run(target, { prompt: PROMPTS[0], stop: [stop] });
      const spec = await run(target, { prompt: PROMPTS[0], stop: [stop] }, ngram, 16);
      expect(spec.events).toEqual(plain.events);
      expect(spec.events.at(-1)).toMatchObject({ type: 'done', finishReason: 'stop' });
    }
  });

  it('stops at a full context as the plain loop does', async () => {
    const small = await Engine.load(await ensureModel('tiny-llama-f32'), { maxPositions: 30 });
    try {
      const plain = await run(small, { prompt: PROMPTS[0], maxTokens: 100 });
      const spec = await run(small, { prompt: PROMPTS[0], maxTokens: 100 }, ngram, 16);
      expect(spec.events).toEqual(plain.events);
      expect(plain.events.at(-1)).toMatchObject({ finishReason: 'length' });
    } finally {
      await small.close();
    }
  });
});

/** Proposes the known plain continuation, corrupted from its `wrongFrom`-th token on: partial acceptance every pass. */
class ScriptedDrafter implements Drafter {
  readonly kind = 'scripted';
  private readonly sequence: readonly number[];
  private readonly wrongFrom: number;
  private readonly nVocab: number;
  constructor(sequence: readonly number[], wrongFrom: number, nVocab: number) {
    this.sequence = sequence;
    this.wrongFrom = wrongFrom;
    this.nVocab = nVocab;
  }
  async draft(context: readonly number[], k: number) {
    const out: number[] = [];
    for (let m = 0; m < k; m++) {
      const right = this.sequence[context.length + m] ?? 0;
      out.push(m < this.wrongFrom ? right : (right + 1 + m) % this.nVocab);
    }
    return { tokens: out };
  }
  free() {}
}

describe('speculative decoding, KV rollback', () => {
  it.each([0, 1, 2])('after drafts rejected at offset %i, the next logits equal a fresh run’s within 1e-5', async (wrongFrom) => {
    const prompt = PROMPTS[2];
    const promptTokens = target.tokenize(prompt);
    const plain = await run(target, { prompt, maxTokens: 24 });
    const sequence = [...promptTokens, ...plain.tokens];
    const nV = target.config.nVocab;
    const stats: SpeculativeStats = emptySpeculativeStats();
    const session = target.createSession();
    const tokens: number[] = [];
    const drafter = new ScriptedDrafter(sequence, wrongFrom, nV);
    for await (const ev of generateTokens(session, target.tokenizer, {
      promptTokens,
      maxTokens: 24,
      sampling: GREEDY,
      speculative: { drafter, k: 4, stats },
    })) {
      if (ev.type === 'token') tokens.push(ev.token);
    }
    expect(tokens).toEqual(plain.tokens);
    expect(stats.drafted - stats.accepted).toBeGreaterThan(0); // something was rolled back
    expect(stats.accepted > 0).toBe(wrongFrom > 0);
    expect(session.tokens).toEqual(sequence.slice(0, -1));
    const next = await session.extend([sequence.at(-1)!], { logits: 'last' });
    const fresh = target.createSession();
    const want = await fresh.extend(sequence, { logits: 'last' });
    let worst = 0;
    for (let i = 0; i < nV; i++) worst = Math.max(worst, Math.abs(next[i] - want[i]));
    expect(worst).toBeLessThan(1e-5);
    session.free();
    fresh.free();
  });
});
