// Picks the next token from a row of logits, with llama.cpp's sampler semantics and chain order:
// penalties (llama_sampler_init_penalties over the last-n window), top-k, top-p, min-p, temperature,
// then a seeded draw. Temperature <= 0 is greedy (argmax after penalties, lowest id on ties).
import type { SamplingOptions } from '../protocol/sampling.ts';
import { EngineError } from './errors.ts';
import { Prng, randomSeed } from './prng.ts';
import { argmax, topKIndices } from './top-k.ts';

export type { SamplingOptions };

export const GREEDY: SamplingOptions = Object.freeze({ temperature: 0 });

function check(ok: boolean, what: string): void {
  if (!ok) throw new EngineError('engine_bad_input', `sampling option ${what}`);
}

function validate(o: SamplingOptions): void {
  const finite = (x: number | undefined) => x === undefined || Number.isFinite(x);
  check(finite(o.temperature), `temperature must be a number, got ${o.temperature}`);
  check(o.topK === undefined || (Number.isInteger(o.topK) && o.topK >= 0), `topK must be a non-negative integer, got ${o.topK}`);
  check(o.topP === undefined || (o.topP > 0 && o.topP <= 1), `topP must be in (0, 1], got ${o.topP}`);
  check(o.minP === undefined || (o.minP >= 0 && o.minP <= 1), `minP must be in [0, 1], got ${o.minP}`);
  check(o.repeatPenalty === undefined || (Number.isFinite(o.repeatPenalty) && o.repeatPenalty > 0), `repeatPenalty must be positive, got ${o.repeatPenalty}`);
  check(finite(o.presencePenalty) && finite(o.frequencyPenalty), 'presencePenalty and frequencyPenalty must be numbers');
  check(
    o.penaltyLastN === undefined || (Number.isInteger(o.penaltyLastN) && o.penaltyLastN >= -1),
    `penaltyLastN must be an integer >= -1, got ${o.penaltyLastN}`,
  );
  check(o.seed === undefined || (Number.isFinite(o.seed) && o.seed >= 0), `seed must be a non-negative number, got ${o.seed}`);
}

export class Sampler {
  readonly options: SamplingOptions;
  /** The seed actually used (reported so a run can be repeated). */
  readonly seed: number;
  private readonly rng: Prng;
  private readonly penalize: boolean;
  private readonly window: number[] = [];
  private readonly counts = new Map<number, number>();
  private scratch = new Float32Array(0);

  constructor(options: SamplingOptions = {}) {
    validate(options);
    this.options = options;
    this.seed = options.seed ?? randomSeed();
    this.rng = new Prng(this.seed);
    const o = options;
    this.penalize = (o.penaltyLastN ?? 64) !== 0 && ((o.repeatPenalty ?? 1) !== 1 || (o.presencePenalty ?? 0) !== 0 || (o.frequencyPenalty ?? 0) !== 0);
  }

  get greedy(): boolean {
    return (this.options.temperature ?? 1) <= 0;
  }

  /** Records a token (prompt or generated) in the penalty window, as common_sampler_accept does. */
  accept(token: number): void {
    if (!this.penalize) return;
    const lastN = this.options.penaltyLastN ?? 64;
    this.window.push(token);
    this.counts.set(token, (this.counts.get(token) ?? 0) + 1);
    if (lastN > 0 && this.window.length > lastN) {
      const old = this.window.shift()!;
      const c = this.counts.get(old)! - 1;
      if (c === 0) this.counts.delete(old);
      else this.counts.set(old, c);
    }
  }

  /** Samples a token id from logits[offset .. offset+n). The logits are not modified. */
  sample(logits: Float32Array, offset = 0, n = logits.length - offset): number {
    let l = logits.subarray(offset, offset + n);
    if (this.penalize && this.counts.size > 0) l = this.applyPenalties(l);
    if (this.greedy) return argmax(l);
    const ids = this.candidates(l);
    const temp = this.options.temperature ?? 1;
    return ids ? this.draw(l, ids, temp) : this.drawAll(l, temp);
  }

  /**
   * The distribution sample() draws from for this row, over the whole vocabulary (float64): what
   * speculative rejection sampling compares a draft's proposal with. Greedy: all mass on the argmax.
   */
  probabilities(logits: Float32Array, offset = 0, n = logits.length - offset): Float64Array {
    let l = logits.subarray(offset, offset + n);
    if (this.penalize && this.counts.size > 0) l = this.applyPenalties(l);
    const p = new Float64Array(n);
    if (this.greedy) {
      p[argmax(l)] = 1;
      return p;
    }
    const temp = this.options.temperature ?? 1;
    const ids = this.candidates(l);
    let max = -Infinity;
    if (ids) for (const i of ids) max = Math.max(max, l[i]);
    else max = l[argmax(l)];
    let sum = 0;
    if (ids) for (const i of ids) sum += p[i] = Math.exp((l[i] - max) / temp);
    else for (let i = 0; i < n; i++) sum += p[i] = Math.exp((l[i] - max) / temp);
    for (let i = 0; i < n; i++) p[i] /= sum;
    return p;
  }

  /** A uniform draw in [0, 1) from this sampler's seeded stream. */
  uniform(): number {
    return this.rng.nextFloat();
  }

  /** Draws an index from unnormalised non-negative weights, with this sampler's seeded stream. */
  drawFrom(weights: Float64Array): number {
    let sum = 0;
    for (let i = 0; i < weights.length; i++) sum += weights[i];
    let u = this.rng.nextFloat() * sum;
    let last = 0;
    for (let i = 0; i < weights.length; i++) {
      if (weights[i] > 0) last = i;
      u -= weights[i];
      if (u < 0) return i;
    }
    return last;
  }

  /**
   * Candidates: the top-k (partial selection), or enough of the head of the distribution to cover
   * top-p, then min-p; null for every token when none is set (no sort needed then).
   */
  private candidates(l: Float32Array): number[] | null {
    const o = this.options;
    const n = l.length;
    const topK = o.topK ?? 0,
      topP = o.topP ?? 1,
      minP = o.minP ?? 0;
    let ids: number[] | null = topK > 0 && topK < n ? topKIndices(l, topK) : null;
    if (topP < 1) ids = nucleus(l, ids, topP);
    if (minP > 0) {
      // llama.cpp compares logits: keep logit >= max + ln(minP).
      const max = ids ? l[ids[0]] : l[argmax(l)];
      const floor = max + Math.log(minP);
      ids = ids ? ids.filter((i) => l[i] >= floor) : indicesWhere(l, (x) => x >= floor);
    }
    return ids;
  }

  private applyPenalties(l: Float32Array): Float32Array {
    if (this.scratch.length !== l.length) this.scratch = new Float32Array(l.length);
    const out = this.scratch;
    out.set(l);
    const o = this.options;
    const rep = Math.fround(o.repeatPenalty ?? 1),
      freq = Math.fround(o.frequencyPenalty ?? 0),
      pres = Math.fround(o.presencePenalty ?? 0);
    for (const [id, count] of this.counts) {
      if (id < 0 || id >= out.length) continue;
      let x = out[id];
      x = x <= 0 ? Math.fround(x * rep) : Math.fround(x / rep);
      out[id] = Math.fround(x - Math.fround(count * freq) - pres);
    }
    return out;
  }

  /** Softmax over the candidates at temperature `temp`, then one uniform draw. */
  private draw(l: Float32Array, ids: readonly number[], temp: number): number {
    let max = -Infinity;
    for (const i of ids) if (l[i] > max) max = l[i];
    const w = new Float64Array(ids.length);
    let sum = 0;
    for (let j = 0; j < ids.length; j++) sum += w[j] = Math.exp((l[ids[j]] - max) / temp);
    let u = this.rng.nextFloat() * sum;
    for (let j = 0; j < ids.length; j++) {
      u -= w[j];
      if (u < 0) return ids[j];
    }
    return ids[ids.length - 1];
  }

  private drawAll(l: Float32Array, temp: number): number {
    const max = l[argmax(l)];
    let sum = 0;
    for (let i = 0; i < l.length; i++) sum += Math.exp((l[i] - max) / temp);
    let u = this.rng.nextFloat() * sum;
    let last = 0;
    for (let i = 0; i < l.length; i++) {
      const w = Math.exp((l[i] - max) / temp);
      if (w > 0) last = i;
      u -= w;
      if (u < 0) return i;
    }
    return last;
  }
}

/**
 * The smallest head of the distribution (over `ids`, or the whole vocabulary) whose probability
 * reaches p, the crossing token included (llama.cpp's top-p). Without a top-k the head is found by
 * partial selection of growing size, so the usual short nucleus costs O(n) rather than a sort.
 */
function nucleus(l: Float32Array, ids: number[] | null, p: number): number[] {
  const pool = ids ?? null;
  let max = -Infinity;
  let total = 0;
  if (pool) {
    max = l[pool[0]];
    for (const i of pool) total += Math.exp(l[i] - max);
  } else {
    max = l[argmax(l)];
    for (let i = 0; i < l.length; i++) total += Math.exp(l[i] - max);
  }
  const n = pool ? pool.length : l.length;
  for (let k = Math.min(n, 64); ; k = Math.min(n, k * 4)) {
    const head = pool ? pool.slice(0, k) : topKIndices(l, k);
    let cum = 0;
    for (let j = 0; j < head.length; j++) {
      cum += Math.exp(l[head[j]] - max) / total;
      if (cum >= p) return head.slice(0, j + 1);
    }
    if (k === n) return head; // rounding kept the sum just under p: keep everything
  }
}

function indicesWhere(l: Float32Array, keep: (x: number) => boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < l.length; i++) if (keep(l[i])) out.push(i);
  return out;
}
