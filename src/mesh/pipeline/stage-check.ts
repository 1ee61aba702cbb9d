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
// This file holds the head's checker (shared by its sessions); check-session.ts runs one session's checks.
import { exactBatchOf } from '../../engine/exact-batch.ts';
import type { Stage } from '../../engine/stage.ts';

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
