// Stage checks: the head re-computes what its stages computed and quarantines a stage whose hidden
// states are off. A layer's output at a position depends on its KV cache, i.e. on every earlier
// position, so the head keeps a shadow session per stage of the plan on its own kernels (weights it
// holds: the companion, a head tab that serves) and runs it lazily: at a check, every row the stages
// answered since the last check goes through the shadow, in chunks its kernels sum exactly as the
// stages summed their frames (decode steps three at a time on WASM), and every row is compared, so
// no position or layer range is left for a stage to guess. A check comes at most `everyTokens` (16)
// tokens after the last, after a gap drawn with the CSPRNG once the stage's answer is in. Star mode
// compares each stage's output; chain mode sees only the last stage's, so a mismatch there is pinned
// on a stage by re-running the held rows through each stage alone, in the frames the session used.
// Tolerance: a row's relative L2 distance; a stage on the head's own kind of kernels must give the
// same bits (1e-4 floor); one on another backend is allowed a multiple of the spread measured once
// per layer range on a probe (the same rows batched and one by one on the head's kernels).
import { exactBatchOf } from '../../engine/exact-batch.ts';
import type { Stage, StageSession } from '../../engine/stage.ts';
import type { LayerPlan } from '../../protocol/mesh-plan.ts';
import { StageCheckFailedError } from './pipeline-errors.ts';

export interface StageCheckerOptions {
  /** Opens layers [first, end) on the head's own kernels (it holds the weights). */
  readonly openRange: (first: number, end: number) => Promise<Stage>;
  /** Hidden states to measure the spread on (the head's embedding of a few tokens), [rows][width]. */
  readonly probe: () => Promise<Float32Array>;
  readonly width: number;
  /** What the head computes on: a stage on another backend gets a wider tolerance. */
  readonly backend: 'wasm' | 'webgpu' | 'ref';
  /** A check at least every this many tokens (default 16). */
  readonly everyTokens?: number;
  /** How long a stage that failed a check stays out of plans (default 10 min). */
  readonly quarantineMs?: number;
  /** 0 ≤ x < 1; default the CSPRNG. Tests pass their own only to make gaps fixed. */
  readonly random?: () => number;
}

export interface QuarantinedPeer {
  readonly peerId: string;
  readonly reason: string;
  readonly at: number;
  readonly until: number;
}

/** What the dashboard and tests read: how many checks ran, what they found, who is out and why. */
export interface StageCheckStatus {
  readonly mode: 'checked' | 'unchecked';
  /** Unchecked: why (nobody holds the layers to re-compute them). */
  readonly note?: string;
  readonly checks: number;
  readonly rowsChecked: number;
  readonly mismatches: number;
  /** Replies refused before any check (NaN or infinite hidden states). */
  readonly refused: number;
  /** Most steps between a stage's first wrong row and its detection (decode: tokens). */
  readonly detectStepsMax: number;
  /** Time the head spent re-computing (its shadow sessions), in ms. */
  readonly computeMs: number;
  readonly quarantined: readonly QuarantinedPeer[];
}

export const CHECK_EVERY_TOKENS = 16;
export const QUARANTINE_MS = 10 * 60_000;
/** No tolerance below this relative distance: an f32 re-computation in another order differs by about 1e-7. */
export const TOLERANCE_FLOOR = 1e-4;
/** Tolerance: this many times the spread measured on the probe. */
export const SPREAD_MARGIN = 4;
/** Against a stage on WebGPU from a head on WASM (or the reverse): not measured on a real GPU yet. */
export const CROSS_BACKEND_FACTOR = 4;

/**
 * The largest relative L2 distance ‖a−b‖/‖b‖ of a row, its index, and the first row farther than
 * `tolerance` (-1: none).
 */
export function rowDistance(
  a: Float32Array,
  b: Float32Array,
  width: number,
  tolerance = Number.POSITIVE_INFINITY,
): { distance: number; row: number; first: number } {
  let worst = { distance: 0, row: -1 };
  let first = -1;
  for (let r = 0; r * width < b.length; r++) {
    let d = 0;
    let n = 0;
    for (let i = r * width; i < (r + 1) * width; i++) {
      const x = a[i] - b[i];
      d += x * x;
      n += b[i] * b[i];
    }
    // A non-finite value never gets here (frames refuse them), but a NaN distance must not pass either.
    const distance = Math.sqrt(d / Math.max(n, 1e-30));
    if (!(distance <= tolerance) && first < 0) first = r;
    if (!(distance <= worst.distance)) worst = { distance: Number.isNaN(distance) ? Number.POSITIVE_INFINITY : distance, row: r };
  }
  return { ...worst, first };
}

function cryptoRandom(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0] / 2 ** 32;
}

const key = (first: number, end: number) => `${first}-${end}`;

/** One per head: the shadow stages and tolerances per layer range, and the record of what checks found. */
export class StageChecker {
  readonly o: StageCheckerOptions;
  private readonly stages = new Map<string, Promise<Stage>>();
  private readonly tolerances = new Map<string, Promise<number>>();
  private readonly out = new Map<string, QuarantinedPeer>();
  private readonly suspects = new Map<string, number>();
  private counts = { checks: 0, rowsChecked: 0, mismatches: 0, refused: 0, detectStepsMax: 0, computeMs: 0 };

  constructor(options: StageCheckerOptions) {
    this.o = options;
  }

  /** The largest batch the head's kernels sum exactly as one-token steps (engine/exact-batch.ts). */
  get exactBatch(): number {
    return exactBatchOf(this.o.backend === 'wasm' ? 'cpu' : this.o.backend);
  }

  /** The most steps (decode: tokens) a wrong row may go unseen. */
  get everyTokens(): number {
    return this.o.everyTokens ?? CHECK_EVERY_TOKENS;
  }

  /** Tokens until the next check: 1..everyTokens, drawn after the stage's answer arrived. */
  nextGap(): number {
    const every = this.everyTokens;
    return 1 + Math.min(every - 1, Math.floor((this.o.random ?? cryptoRandom)() * every));
  }

  stage(first: number, end: number): Promise<Stage> {
    const k = key(first, end);
    let s = this.stages.get(k);
    if (!s) {
      s = this.o.openRange(first, end);
      s.catch(() => this.stages.delete(k));
      this.stages.set(k, s);
    }
    return s;
  }

  /** The tolerance for layers [first, end) against a stage on `backend`. */
  async tolerance(first: number, end: number, backend: string | undefined): Promise<number> {
    // The same kernels summing the same chunks give the same bits: only the floor.
    if (backend === this.o.backend) return TOLERANCE_FLOOR;
    const k = key(first, end);
    let t = this.tolerances.get(k);
    if (!t) {
      t = this.measureSpread(first, end);
      t.catch(() => this.tolerances.delete(k));
      this.tolerances.set(k, t);
    }
    const spread = await t;
    const cross = (backend === 'webgpu') !== (this.o.backend === 'webgpu');
    return Math.max(TOLERANCE_FLOOR, SPREAD_MARGIN * spread) * (cross ? CROSS_BACKEND_FACTOR : 1);
  }

  /** The probe's rows through [first, end) in one batch and one by one: how far honest re-computations drift. */
  private async measureSpread(first: number, end: number): Promise<number> {
    const stage = await this.stage(first, end);
    const probe = await this.o.probe();
    const w = this.o.width;
    const rows = probe.length / w;
    const batched = stage.createSession({ maxPositions: rows });
    const single = stage.createSession({ maxPositions: rows });
    try {
      const all = await batched.extend(probe.slice(), rows);
      const one = new Float32Array(probe.length);
      for (let r = 0; r < rows; r++) one.set(await single.extend(probe.slice(r * w, (r + 1) * w), 1), r * w);
      return rowDistance(all, one, w).distance;
    } finally {
      batched.free();
      single.free();
    }
  }

  noteCheck(rows: number, ms: number): void {
    this.counts.checks++;
    this.counts.rowsChecked += rows;
    this.counts.computeMs += ms;
  }

  /** A check found wrong rows, `steps` after the first of them. */
  noteMismatch(steps: number): void {
    this.counts.mismatches++;
    this.counts.detectStepsMax = Math.max(this.counts.detectStepsMax, steps);
  }

  /** A stage failed a check (or sent non-finite values: `refused`): out of plans for the quarantine time. */
  quarantine(peerId: string, reason: string, refused = false): QuarantinedPeer {
    if (refused) this.counts.refused++;
    const at = Date.now();
    const q = { peerId, reason, at, until: at + this.quarantineMs };
    this.out.set(peerId, q);
    return q;
  }

  /**
   * Stages of a chain whose output was wrong where no stage alone was shown to be (a plan changed
   * under the answer, or a liar that behaves when alone): sessions whose plan holds one run in star
   * mode for a while, where the head sees each stage's output and the liar is caught by name.
   */
  suspect(peerIds: readonly string[]): void {
    const until = Date.now() + this.quarantineMs;
    for (const p of peerIds) this.suspects.set(p, until);
  }

  isSuspect(peerId: string): boolean {
    return (this.suspects.get(peerId) ?? 0) > Date.now();
  }

  get quarantineMs(): number {
    return this.o.quarantineMs ?? QUARANTINE_MS;
  }

  status(): StageCheckStatus {
    const now = Date.now();
    for (const [peer, q] of this.out) if (q.until <= now) this.out.delete(peer);
    return { mode: 'checked', ...this.counts, quarantined: [...this.out.values()] };
  }
}

/** One leg's answer for a batch: star: one per stage; chain: the last stage's only. */
export interface RecordedBatch {
  readonly position: number;
  readonly nTokens: number;
  readonly input: Float32Array;
  readonly outputs: readonly Float32Array[];
  /** Sent flagged exact (a speculative verification batch): the stage ran it in chunks of its exact batch. */
  readonly exact?: boolean;
}

/** Runs rows through one stage alone (star), for pinning a chain's mismatch on a stage. */
export type OpenAlone = (stageIndex: number) => Promise<{
  extend(hidden: Float32Array, nTokens: number, position: number, exact: boolean): Promise<Float32Array>;
  close(): Promise<void>;
}>;

/** Frames of the pinning replay: well under the stages' frame limit. */
const PIN_ROWS = 256;

/** The checks of one inference session on one plan: what the stages answered since the last check, and the shadow. */
export class CheckSession {
  private readonly checker: StageChecker;
  private readonly plan: LayerPlan;
  private readonly chained: boolean;
  private readonly backends: readonly (string | undefined)[];
  private readonly maxPositions: number;
  private shadows: StageSession[] | undefined;
  private pending: RecordedBatch[] = [];
  /** Honest inputs of every stage (index nStages: the last stage's honest output) for positions [0, checked). */
  private history: Float32Array[][] = [];
  /** The frames those positions came in (chain mode): a stage alone is replayed in the same shapes, like a real session. */
  private shapes: { n: number; exact: boolean }[] = [];
  /** A check is under way (it runs beside the decoding); a rollback asked meanwhile waits for it. */
  private busy = false;
  private rollback: number | undefined;
  private freed = false;
  private checked = 0;
  private since = 0;
  private gap: number;

  constructor(checker: StageChecker, plan: LayerPlan, chained: boolean, backends: readonly (string | undefined)[], maxPositions: number) {
    this.checker = checker;
    this.plan = plan;
    this.chained = chained;
    this.backends = backends;
    this.maxPositions = maxPositions;
    this.gap = checker.nextGap();
  }

  record(batch: RecordedBatch): void {
    this.pending.push(batch);
    this.since += batch.nTokens;
  }

  /** Batches (decode steps) recorded and not checked yet. */
  get pendingSteps(): number {
    return this.pending.length;
  }

  /** True once the tokens since the last check reach the gap drawn for it. */
  get due(): boolean {
    return this.since >= this.gap && this.pending.length > 0;
  }

  /** Positions from `length` on are gone (a rejected draft): forget their rows, roll the shadow back. */
  truncate(length: number): void {
    this.pending = this.pending.filter((b) => b.position < length).map((b) => (b.position + b.nTokens <= length ? b : cut(b, length, this.rowWidth)));
    // A check under way holds the shadow: it rolls back once the check is done.
    if (this.busy) this.rollback = Math.min(this.rollback ?? length, length);
    else this.rollBack(length);
  }

  private rollBack(length: number): void {
    if (length < this.checked) {
      for (const s of this.shadows ?? []) s.truncate(length);
      for (const h of this.history) trimRows(h, length, this.rowWidth, this.checked);
      let rows = 0;
      const kept: { n: number; exact: boolean }[] = [];
      for (const shape of this.shapes) {
        if (rows >= length) break;
        kept.push({ ...shape, n: Math.min(shape.n, length - rows) });
        rows += shape.n;
      }
      this.shapes = kept;
      this.checked = length;
    }
  }

  private get rowWidth(): number {
    return this.checker.o.width;
  }

  /**
   * Re-computes every row since the last check; throws StageCheckFailedError naming the stage that is
   * off. One at a time; rows recorded, rolled back or freed meanwhile are taken in when it is done.
   */
  async check(openAlone: OpenAlone): Promise<void> {
    if (this.pending.length === 0 || this.busy || this.freed) return;
    this.busy = true;
    try {
      await this.checkPending(openAlone);
    } finally {
      this.busy = false;
      if (this.rollback !== undefined) this.rollBack(this.rollback);
      this.rollback = undefined;
      if (this.freed) this.release();
    }
  }

  private async checkPending(openAlone: OpenAlone): Promise<void> {
    const batches = this.pending;
    this.pending = [];
    this.since = 0;
    this.gap = this.checker.nextGap();
    const w = this.rowWidth;
    const stages = this.plan.stages;
    this.shadows ??= await Promise.all(
      stages.map(async (s) => (await this.checker.stage(s.layers.start, s.layers.end)).createSession({ maxPositions: this.maxPositions })),
    );
    const start = batches[0].position;
    if (start !== this.checked) throw new Error(`stage check: rows from ${start} but ${this.checked} checked (positions must be contiguous)`);
    const rows = batches.reduce((n, b) => n + b.nTokens, 0);
    // The shadow, in chunks its kernels sum exactly as the stages summed their frames: each stage's honest input kept.
    const started = performance.now();
    const honest: Float32Array[][] = stages.map(() => []);
    const inputs: Float32Array[] = [];
    for (const chunk of exactChunks(batches, this.checker.exactBatch, w)) {
      let x = chunk;
      inputs.push(x);
      for (let i = 0; i < stages.length; i++) {
        x = await this.shadows[i].extend(x, x.length / w);
        honest[i].push(x);
      }
    }
    const flat = [concat(inputs), ...honest.map(concat)];
    this.checker.noteCheck(rows, performance.now() - started);
    const legs = this.chained ? [stages.length - 1] : stages.map((_, i) => i);
    for (let j = 0; j < legs.length; j++) {
      const i = legs[j];
      const got = concat(batches.map((b) => b.outputs[j]));
      const tolerance = await this.checker.tolerance(stages[i].layers.start, stages[i].layers.end, this.backends[i]);
      const { distance, row, first } = rowDistance(got, flat[i + 1], w, tolerance);
      if (first < 0) continue;
      const steps = batches.filter((b) => b.position + b.nTokens > start + first).length;
      const what = `hidden states up to ${distance.toPrecision(3)} off (tolerance ${tolerance.toPrecision(3)}), at position ${start + row}, from position ${start + first} on`;
      if (!this.chained) throw this.fail([stages[i].peerId], [], `stage ${stages[i].layers.start}-${stages[i].layers.end - 1}: ${what}`, steps);
      this.keep(flat, batches);
      const culprit = await this.pin(openAlone, start + rows);
      if (culprit) throw this.fail([culprit], [], `the chain's output: ${what}; that stage alone too`, steps);
      throw this.fail(
        [],
        stages.map((s) => s.peerId),
        `the chain's output: ${what}; no stage alone was`,
        steps,
      );
    }
    this.keep(flat, batches);
    this.checked = start + rows;
  }

  /** Chain mode keeps every stage's honest inputs, to pin a later mismatch on one stage; star mode needs none. */
  private keep(honest: readonly Float32Array[], batches: readonly RecordedBatch[]): void {
    if (!this.chained) return;
    for (let k = 0; k < honest.length; k++) (this.history[k] ??= []).push(honest[k]);
    this.shapes.push(...batches.map((b) => ({ n: b.nTokens, exact: b.exact ?? false })));
  }

  private fail(peers: string[], suspects: string[], reason: string, steps: number): StageCheckFailedError {
    for (const p of peers) this.checker.quarantine(p, reason);
    this.checker.suspect(suspects);
    return new StageCheckFailedError(peers, reason, steps, suspects);
  }

  /** Chain mode: each stage alone, on the shadow's honest inputs for every held position; who is off. */
  private async pin(openAlone: OpenAlone, end: number): Promise<string | undefined> {
    const w = this.rowWidth;
    const stages = this.plan.stages;
    for (let i = 0; i < stages.length; i++) {
      const input = concat(this.history[i]);
      const want = concat(this.history[i + 1]);
      const tolerance = await this.checker.tolerance(stages[i].layers.start, stages[i].layers.end, this.backends[i]);
      let alone: Awaited<ReturnType<OpenAlone>> | undefined;
      try {
        alone = await openAlone(i);
        let at = 0;
        for (const shape of this.shapes) {
          for (let done = 0; done < shape.n && at < end; ) {
            const n = Math.min(PIN_ROWS, shape.n - done, end - at);
            const got = await alone.extend(input.slice(at * w, (at + n) * w), n, at, shape.exact);
            if (rowDistance(got, want.subarray(at * w, (at + n) * w), w, tolerance).first >= 0) return stages[i].peerId;
            at += n;
            done += n;
          }
        }
      } catch {
        // A stage that will not answer alone is not shown to be the liar; the next may be.
      } finally {
        await alone?.close().catch(() => {});
      }
    }
    return undefined;
  }

  free(): void {
    this.freed = true;
    if (!this.busy) this.release();
  }

  private release(): void {
    for (const s of this.shadows ?? []) s.free();
    this.shadows = undefined;
    this.pending = [];
    this.history = [];
    this.shapes = [];
  }
}

/**
 * The batches' input rows regrouped in chunks whose rows the kernels compute bit for bit as the stage
 * did: rows the stage ran in batches of at most `exactBatch` (decode steps, exact frames) in chunks of
 * up to `exactBatch` (on WASM three one-token steps cost less as one chunk), any other frame (a
 * prefill) whole, as it came.
 */
export function exactChunks(batches: readonly RecordedBatch[], exactBatch: number, width: number): Float32Array[] {
  const out: Float32Array[] = [];
  let loose: Float32Array[] = [];
  let looseRows = 0;
  const flush = () => {
    const rows = concat(loose);
    for (let at = 0; at < looseRows; at += exactBatch) out.push(rows.subarray(at * width, Math.min(looseRows, at + exactBatch) * width));
    loose = [];
    looseRows = 0;
  };
  for (const b of batches) {
    if (b.exact || b.nTokens <= exactBatch) {
      loose.push(b.input);
      looseRows += b.nTokens;
    } else {
      if (looseRows) flush();
      out.push(b.input);
    }
  }
  if (looseRows) flush();
  return out;
}

function concat(parts: readonly Float32Array[]): Float32Array {
  if (parts.length === 1) return parts[0];
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The batch's rows before `length`. */
function cut(b: RecordedBatch, length: number, width: number): RecordedBatch {
  const n = length - b.position;
  return { position: b.position, nTokens: n, input: b.input.subarray(0, n * width), outputs: b.outputs.map((o) => o.subarray(0, n * width)) };
}

/** Keeps the first `length` rows of chunks that hold `held` rows in all. */
function trimRows(chunks: Float32Array[], length: number, width: number, held: number): void {
  let rows = held;
  while (chunks.length && rows - chunks[chunks.length - 1].length / width >= length) rows -= chunks.pop()!.length / width;
  if (chunks.length && rows > length)
    chunks[chunks.length - 1] = chunks[chunks.length - 1].subarray(0, chunks[chunks.length - 1].length - (rows - length) * width);
}

/** One status for several heads (a companion planning several models): counts summed, the worst detection, every quarantined peer. */
export function mergeCheckStatus(all: readonly StageCheckStatus[]): StageCheckStatus {
  const checked = all.filter((s) => s.mode === 'checked');
  if (checked.length === 0)
    return all[0] ?? { mode: 'unchecked', checks: 0, rowsChecked: 0, mismatches: 0, refused: 0, detectStepsMax: 0, computeMs: 0, quarantined: [] };
  const sum = (k: 'checks' | 'rowsChecked' | 'mismatches' | 'refused' | 'computeMs') => checked.reduce((n, s) => n + s[k], 0);
  return {
    mode: 'checked',
    checks: sum('checks'),
    rowsChecked: sum('rowsChecked'),
    mismatches: sum('mismatches'),
    refused: sum('refused'),
    computeMs: sum('computeMs'),
    detectStepsMax: Math.max(...checked.map((s) => s.detectStepsMax)),
    quarantined: checked.flatMap((s) => s.quarantined),
  };
}
