// The checks of one inference session (stage-check.ts has the why): what the head recorded of its
// stages' answers since the last check, the shadow sessions that re-compute them in exact chunks, the
// comparison, and in chain mode the replay that pins a mismatch on one stage. mesh-session.ts records
// each batch and runs the checks beside the decoding.
import type { StageSession } from '../../engine/stage.ts';
import type { LayerPlan } from '../../protocol/mesh-plan.ts';
import { StageCheckFailedError } from './pipeline-errors.ts';
import { rowDistance, type StageChecker } from './stage-check.ts';

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
