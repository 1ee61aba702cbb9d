// Speculative decoding on synthetic 48-token models (reference kernels, whole batches verified in one
// pass): a small vocabulary makes greedy output cycle, so the n-gram drafter is accepted; and with
// sampling, the token after a verification pass follows the target's distribution (chi-square over
// thousands of seeded draws, with draft-model and fixed proposals far from the target's).
import { beforeAll, describe, expect, it } from 'vitest';
import type { Drafter, SpeculativeStats } from './drafter.ts';
import { emptySpeculativeStats } from './drafter.ts';
import { Engine } from './engine.ts';
import { ModelDrafter } from './model-drafter.ts';
import { NgramDrafter } from './ngram-drafter.ts';
import { Sampler, type SamplingOptions } from './sampler.ts';
import { plainSteps, speculativeSteps, type SpeculativeOptions } from './speculative.ts';
import { synthModelBytes } from './testing/synthetic-models.ts';

const N_VOCAB = 48;
const PROMPT = [1, 5, 9, 14, 2];
let target: Engine;
let draft: Engine;

beforeAll(async () => {
  target = await Engine.load(synthModelBytes({ nVocab: N_VOCAB, seed: 1 }));
  draft = await Engine.load(synthModelBytes({ nVocab: N_VOCAB, nLayer: 1, seed: 7 }));
});

/** `n` tokens after PROMPT, from the plain loop or the speculative one. */
async function tokens(n: number, sampling: SamplingOptions, spec?: Omit<SpeculativeOptions, 'stats'>): Promise<{ out: number[]; stats: SpeculativeStats }> {
  const session = target.createSession();
  const stats = emptySpeculativeStats();
  const first = await session.extend(PROMPT, { logits: 'last' });
  const sampler = new Sampler(sampling);
  const out: number[] = [];
  const steps = spec ? speculativeSteps(session, sampler, first, { ...spec, stats }, () => n - out.length) : plainSteps(session, sampler, first);
  for await (const step of steps) {
    out.push(step.token);
    if (out.length >= n) break;
  }
  expect(session.length).toBe(PROMPT.length + n - 1);
  session.free();
  return { out, stats };
}

describe('speculative decoding on a small vocabulary', () => {
  it('greedy: the n-gram drafter is accepted once the output cycles, and the tokens are the plain loop’s', async () => {
    const plain = await tokens(120, { temperature: 0 });
    const spec = await tokens(120, { temperature: 0 }, { drafter: new NgramDrafter(), k: 4 });
    expect(spec.out).toEqual(plain.out);
    expect(spec.stats.accepted).toBeGreaterThan(40);
    expect(spec.stats.passes).toBeLessThan(spec.stats.accepted);
  });

  it('consults a drafter that keeps missing less and less often, with the same tokens', async () => {
    const plain = await tokens(120, { temperature: 0 });
    const wrong: Drafter = { kind: 'wrong', draft: async (_c, k) => ({ tokens: Array(k).fill(N_VOCAB - 1 - plain.out[0]) }), free() {} };
    const spec = await tokens(120, { temperature: 0 }, { drafter: wrong, k: 4 });
    expect(spec.out).toEqual(plain.out);
    // k halves to 1 in 3 passes, then the pauses double: 1 + 2 + 4 + 8 + 16 + 32 + 32 … steps
    expect(spec.stats.passes).toBeLessThan(15);
  });

  it('greedy with penalties: the draft model’s tokens are the plain loop’s', async () => {
    const sampling = { temperature: 0, repeatPenalty: 1.3, penaltyLastN: 16 };
    const plain = await tokens(60, sampling);
    const drafter = new ModelDrafter(draft.createSession());
    const spec = await tokens(60, sampling, { drafter, k: 3 });
    drafter.free();
    expect(spec.out).toEqual(plain.out);
  });
});

/** Always proposes `token`: a deterministic proposal, as the n-gram drafter's. */
const fixed = (token: number): Drafter => ({ kind: 'fixed', draft: async (_c, k) => ({ tokens: Array(k).fill(token) }), free() {} });

describe('speculative sampling keeps the target’s distribution', () => {
  const TRIALS = 3000;
  const FORCED = 7;

  /**
   * The token after one verification pass, TRIALS times: the first token is forced to FORCED by its
   * logits, so the second is drawn from p(· | PROMPT, FORCED) through verifyToken.
   */
  async function secondTokens(drafter: Drafter, sampling: SamplingOptions): Promise<{ counts: number[]; acceptance: number }> {
    const session = target.createSession();
    await session.extend(PROMPT, { logits: 'none' });
    const forced = new Float32Array(N_VOCAB);
    forced[FORCED] = 200;
    const counts = new Array(N_VOCAB).fill(0);
    const stats = emptySpeculativeStats();
    for (let trial = 0; trial < TRIALS; trial++) {
      const sampler = new Sampler({ ...sampling, seed: 1000 + trial });
      let seen = 0;
      for await (const step of speculativeSteps(session, sampler, forced, { drafter, k: 1, stats }, () => 3 - seen)) {
        if (++seen === 1) expect(step.token).toBe(FORCED);
        else {
          counts[step.token]++;
          break;
        }
      }
      session.truncate(PROMPT.length);
    }
    session.free();
    expect(stats.drafted).toBe(TRIALS);
    return { counts, acceptance: stats.accepted / stats.drafted };
  }

  async function targetDistribution(sampling: SamplingOptions): Promise<Float64Array> {
    const s = target.createSession();
    const row = await s.extend([...PROMPT, FORCED], { logits: 'last' });
    s.free();
    const sampler = new Sampler(sampling);
    for (const t of [...PROMPT, FORCED]) sampler.accept(t);
    return sampler.probabilities(row);
  }

  /** Pearson's chi-square over cells expecting at least 5 draws (the rest pooled), and its degrees of freedom. */
  function chiSquare(counts: number[], p: Float64Array): { chi2: number; df: number } {
    let chi2 = 0,
      df = -1,
      poolObserved = 0,
      poolExpected = 0;
    for (let i = 0; i < p.length; i++) {
      const e = p[i] * TRIALS;
      if (e < 5) {
        poolObserved += counts[i];
        poolExpected += e;
        continue;
      }
      chi2 += (counts[i] - e) ** 2 / e;
      df++;
    }
    if (poolExpected >= 5) {
      chi2 += (poolObserved - poolExpected) ** 2 / poolExpected;
      df++;
    } else {
      expect(poolObserved).toBeLessThan(15); // nothing drawn where the target puts (almost) no mass
    }
    return { chi2, df };
  }

  /** About a 1e-6 false-alarm rate for these df (normal approximation): a wrong sampler lands far above it. */
  const bound = (df: number) => df + 5 * Math.sqrt(2 * df);

  /** The draft model's proposal distribution at the verified position. */
  async function draftDistribution(sampling: SamplingOptions): Promise<Float64Array> {
    const s = draft.createSession();
    const row = await s.extend([...PROMPT, FORCED], { logits: 'last' });
    s.free();
    return new Sampler(sampling).probabilities(row);
  }
  const point = (token: number) => {
    const q = new Float64Array(N_VOCAB);
    q[token] = 1;
    return q;
  };

  it.each([
    ['a draft model’s random proposal', { temperature: 1 }, 'model'],
    ['a draft model’s proposal under top-k (supports differ)', { temperature: 0.8, topK: 16 }, 'model'],
    ['a fixed proposal', { temperature: 1 }, 'fixed'],
  ] as const)(
    'with %s',
    async (_, sampling, kind) => {
      const p = await targetDistribution(sampling);
      // a fixed proposal with about a 0.3 chance under the target (or the nearest to it)
      let guess = 0;
      for (let i = 0; i < N_VOCAB; i++) if (Math.abs(p[i] - 0.3) < Math.abs(p[guess] - 0.3)) guess = i;
      const q = kind === 'model' ? await draftDistribution(sampling) : point(guess);
      const drafter = kind === 'model' ? new ModelDrafter(draft.createSession(), { ...sampling, seed: 3 }) : fixed(guess);
      const { counts, acceptance } = await secondTokens(drafter, sampling);
      drafter.free();
      const { chi2, df } = chiSquare(counts, p);
      expect(df).toBeGreaterThan(2);
      expect(chi2).toBeLessThan(bound(df));
      // both the accept and the reject paths ran
      expect(acceptance).toBeGreaterThan(0.02);
      expect(acceptance).toBeLessThan(0.95);
      // the check has power: the proposal is far from the target (total variation), so passing the
      // proposal's tokens through unchecked would fail it
      let tv = 0;
      for (let i = 0; i < N_VOCAB; i++) tv += Math.abs(p[i] - q[i]) / 2;
      expect(tv).toBeGreaterThan(0.2);
    },
    120_000,
  );
});
