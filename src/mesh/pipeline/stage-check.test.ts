// Stage checks without a network: what the head records of its stages' answers is re-computed on
// its own kernels and compared. Honest rows pass (whatever their batch shapes, rollbacks included),
// a corrupted row is pinned on its stage with the steps it took to see it, gaps stay within 16.
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../../../tools/models/registry.ts';
import { computeFor } from '../../engine/backend.ts';
import { fileSource } from '../../engine/file-source.ts';
import { openHead, type Head } from '../../engine/head.ts';
import { openModel, type ModelFile } from '../../engine/model.ts';
import { openStage, type StageSession } from '../../engine/stage.ts';
import type { LayerPlan } from '../../protocol/mesh-plan.ts';
import { StageCheckFailedError } from './pipeline-errors.ts';
import { CheckSession, exactChunks } from './check-session.ts';
import { CROSS_BACKEND_FACTOR, rowDistance, StageChecker, TOLERANCE_FLOOR } from './stage-check.ts';

let file: ModelFile;
let head: Head;

beforeAll(async () => {
  file = await openModel(await fileSource(await ensureModel('kjv-llama-3m-q8_0')));
  head = await openHead(file, await computeFor('cpu'));
}, 60_000);

const plan = (ranges: [number, number][]): LayerPlan =>
  ({
    model: 'm',
    epoch: 1,
    stages: ranges.map(([start, end], i) => ({ peerId: `peer-${i}`, layers: { start, end }, shard: { kind: 'dense' } })),
  }) as unknown as LayerPlan;

function checker(gap = 16): StageChecker {
  return new StageChecker({
    openRange: async (first, end) => openStage(file, first, end, await computeFor('cpu')),
    probe: () => head.embed(Array.from({ length: 16 }, (_, i) => i + 3)),
    width: file.config.nEmbd,
    backend: 'wasm',
    everyTokens: gap,
  });
}

/** The stages as remote peers would run them (WASM, one frame at a time), with the rows a liar sends. */
async function stages(ranges: [number, number][]): Promise<StageSession[]> {
  const compute = await computeFor('cpu');
  return Promise.all(ranges.map(async ([a, b]) => (await openStage(file, a, b, compute)).createSession({ maxPositions: 256 })));
}

async function runFrame(s: StageSession[], c: CheckSession, tokens: number[], position: number, lie?: (i: number, out: Float32Array) => Float32Array) {
  const input = await head.embed(tokens);
  let x = input;
  const outputs: Float32Array[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i].length > position) s[i].truncate(position);
    x = await s[i].extend(x, tokens.length);
    if (lie) x = lie(i, x);
    outputs.push(x);
  }
  c.record({ position, nTokens: tokens.length, input, outputs });
}

describe('rowDistance', () => {
  it('is the worst row’s relative L2 distance, and finds the first row past a tolerance', () => {
    const b = new Float32Array([1, 0, 0, 2, 3, 4]);
    const a = Float32Array.from(b);
    expect(rowDistance(a, b, 2)).toEqual({ distance: 0, row: -1, first: -1 });
    a[3] = 2.02; // row 1: 0.01 off
    a[4] = 3.3; // row 2: 0.06 off
    const d = rowDistance(a, b, 2, 0.005);
    expect(d.row).toBe(2);
    expect(d.distance).toBeCloseTo(0.06, 5);
    expect(d.first).toBe(1);
  });
});

describe('exactChunks', () => {
  it('regroups one-token steps and exact frames in chunks of the exact batch, and keeps a prefill whole', () => {
    const rows = (n: number, from: number) => Float32Array.from({ length: n }, (_, i) => from + i);
    const b = (position: number, n: number, exact = false) => ({ position, nTokens: n, input: rows(n, position), outputs: [], ...(exact ? { exact } : {}) });
    const chunks = exactChunks([b(0, 5), b(5, 1), b(6, 1), b(7, 4, true), b(11, 1), b(12, 6)], 3, 1);
    expect(chunks.map((c) => Array.from(c))).toEqual([[0, 1, 2, 3, 4], [5, 6, 7], [8, 9, 10], [11], [12, 13, 14, 15, 16, 17]]);
    expect(exactChunks([b(0, 5), b(5, 1)], Number.POSITIVE_INFINITY, 1).map((c) => c.length)).toEqual([6]);
  });
});

describe('the gap between checks', () => {
  it('is drawn in 1..16 and reaches both ends', () => {
    const c = checker();
    const seen = new Set(Array.from({ length: 2000 }, () => c.nextGap()));
    expect(Math.min(...seen)).toBe(1);
    expect(Math.max(...seen)).toBe(16);
  });
});

describe('a check session', () => {
  it('passes honest stages over a prefill, decode steps and a rollback, and measures a tolerance near the floor', async () => {
    const c = checker();
    const p = plan([
      [0, 1],
      [1, 3],
    ]);
    const session = new CheckSession(c, p, false, ['wasm', 'wasm'], 256);
    const s = await stages([
      [0, 1],
      [1, 3],
    ]);
    await runFrame(s, session, [1, 50, 60, 70, 80, 90], 0);
    for (let t = 6; t < 40; t++) {
      await runFrame(s, session, [100 + t], t);
      if (t === 20) {
        // A rejected draft: three rows sent and checked, then the last two taken back (the shadow rolls back too).
        await session.check(() => Promise.reject(new Error('unused')));
        await runFrame(s, session, [7, 8, 9], 21);
        await session.check(() => Promise.reject(new Error('unused')));
        session.truncate(22);
        t = 21;
        continue;
      }
      if (session.due) await session.check(() => Promise.reject(new Error('star mode needs no pinning')));
    }
    await session.check(() => Promise.reject(new Error('unused')));
    const status = c.status();
    expect(status.mismatches).toBe(0);
    expect(status.rowsChecked).toBe(42); // 40 positions, and the two draft rows taken back
    expect(status.checks).toBeGreaterThanOrEqual(3);
    // Same kernels, same bits: the floor; against WebGPU, the probe's spread with a margin.
    expect(await c.tolerance(0, 1, 'wasm')).toBe(TOLERANCE_FLOOR);
    expect(await c.tolerance(0, 1, 'webgpu')).toBeGreaterThanOrEqual(TOLERANCE_FLOOR * CROSS_BACKEND_FACTOR);
    session.free();
  });

  it('rolls the shadow back once a check that was under way when a draft was taken back is done', async () => {
    const c = checker();
    const session = new CheckSession(c, plan([[0, 3]]), false, ['wasm'], 256);
    const s = await stages([[0, 3]]);
    await runFrame(s, session, [1, 50, 60], 0);
    await runFrame(s, session, [7, 8, 9], 3); // a draft of three
    const running = session.check(() => Promise.reject(new Error('unused')));
    session.truncate(4); // two of its rows taken back while the check runs
    await running;
    for (let t = 4; t < 10; t++) await runFrame(s, session, [t + 20], t);
    await session.check(() => Promise.reject(new Error('unused')));
    expect(c.status()).toMatchObject({ checks: 2, rowsChecked: 12, mismatches: 0, quarantined: [] });
  });

  it('pins a stage that scales its rows by 1.01 from the tenth step on, within 16 steps', async () => {
    const c = checker();
    const session = new CheckSession(
      c,
      plan([
        [0, 1],
        [1, 3],
      ]),
      false,
      ['wasm', 'wasm'],
      256,
    );
    const s = await stages([
      [0, 1],
      [1, 3],
    ]);
    await runFrame(s, session, [1, 50, 60], 0);
    let caught: StageCheckFailedError | undefined;
    for (let t = 3; t < 60 && !caught; t++) {
      await runFrame(s, session, [t], t, (i, out) => (i === 1 && t >= 12 ? out.map((v) => v * 1.01) : out));
      if (session.due)
        caught = await session
          .check(() => Promise.reject(new Error('unused')))
          .then(
            () => undefined,
            (e: unknown) => e as StageCheckFailedError,
          );
    }
    expect(caught).toBeInstanceOf(StageCheckFailedError);
    expect(caught!.peerIds).toEqual(['peer-1']);
    expect(caught!.reason).toMatch(/^stage 1-2: hidden states up to 0\.01\d* off .* from position 12 on$/);
    expect(caught!.detectSteps).toBeLessThanOrEqual(16);
    expect(c.status().quarantined.map((q) => q.peerId)).toEqual(['peer-1']);
  });
});
