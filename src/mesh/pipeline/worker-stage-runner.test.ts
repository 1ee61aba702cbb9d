// The stage runner's two hosts agree: a stage in the inference worker (a Node worker_thread running
// workers/inference-worker.ts, the page's code path) gives bit-for-bit the hidden states of the same
// stage in this process, through prefill, decode and rollback, with sessions apart from each other;
// a backend that is not there is refused when forced and passed over on 'auto'. Then a mesh peer
// whose stage runs in the worker serves its share of a split model: the unsplit logits come back,
// and it gossips the backend its stage runs on.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeFor } from '../../engine/backend.ts';
import { openHead } from '../../engine/head.ts';
import { openModel } from '../../engine/model.ts';
import { openPipeline } from '../../engine/pipeline.ts';
import { openTail } from '../../engine/tail.ts';
import { synthModelBytes } from '../../engine/testing/synthetic-models.ts';
import { startNodeInferenceWorker } from '../../engine/testing/worker-node.ts';
import { memorySource } from '../../gguf/byte-source.ts';
import { budgetFor, routeOf, startCoordinator, startServerPeer, startTestMesh, until } from '../testing/test-mesh.ts';
import { createMeshSession } from './mesh-session.ts';
import { inProcessStageRunner, type RunningStage } from './stage-runner.ts';
import { workerStageRunner } from './worker-stage-runner.ts';

const bytes = synthModelBytes({ nLayer: 4, nEmbd: 32, nFf: 64, nVocab: 48, seed: 11 });
let dir: string;
let path: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'worker-stage-'));
  path = join(dir, 'synth.gguf');
  writeFileSync(path, bytes);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const noGpu = async () => undefined;
const inWorker = () => workerStageRunner({ modelUrl: () => path, startWorker: startNodeInferenceWorker, probeGpu: noGpu });
const inProcess = () => inProcessStageRunner({ openModel: async () => openModel(memorySource(bytes)) });
const hidden = (n: number, seed: number) => Float32Array.from({ length: n * 32 }, (_, i) => Math.sin(i * 0.37 + seed));

async function run(stage: RunningStage): Promise<Float32Array[]> {
  const a = await stage.createSession();
  const b = await stage.createSession();
  const out = [await a.extend(hidden(5, 1), 5), await b.extend(hidden(2, 9), 2), await a.extend(hidden(1, 2), 1)];
  await a.extend(hidden(2, 3), 2);
  await a.truncate(6); // rollback: the next batch recomputes position 6
  expect(a.length).toBe(6);
  out.push(await a.extend(hidden(1, 4), 1), await b.extend(hidden(1, 5), 1));
  expect([a.length, b.length]).toEqual([7, 3]);
  await a.free();
  await b.free();
  return out;
}

describe('the stage runner in the inference worker', () => {
  it('computes what the in-process stage does, bit for bit, and leaves the caller its input', async () => {
    const stage = await inWorker().open('synth', { start: 1, end: 3 }, 'auto');
    try {
      expect(stage.backend).toBe('wasm');
      expect(stage.detail).toMatch(/^WebAssembly in a worker, \d+ threads?$/);
      const local = await inProcess().open('synth', { start: 1, end: 3 }, 'wasm');
      const [ours, theirs] = [await run(stage), await run(local)];
      for (let i = 0; i < ours.length; i++) expect(Array.from(ours[i])).toEqual(Array.from(theirs[i]));
      const input = hidden(1, 7);
      const s = await stage.createSession();
      await s.extend(input, 1);
      expect(input.length).toBe(32); // copied before the transfer, not detached
    } finally {
      await stage.close();
    }
    await expect((await stage.createSession().catch((e: unknown) => e)) as Error).toMatchObject({ code: 'worker_closed' });
  });

  it('refuses a forced WebGPU stage where there is none, with a code that says so', async () => {
    const failure = await inWorker()
      .open('synth', { start: 0, end: 1 }, 'webgpu')
      .catch((e: unknown) => e);
    expect(failure).toMatchObject({ code: 'engine_backend_unavailable', message: expect.stringContaining('webgpu') });
  });
});

describe('a mesh peer whose stage runs in the worker', () => {
  it('serves its share of a split model with the unsplit logits, and gossips its stage backend', async () => {
    const mesh = await startTestMesh();
    const file = await openModel(memorySource(bytes));
    const coordinator = startCoordinator(mesh, 'synth', file);
    const open = async () => openModel(memorySource(bytes));
    const peers = [
      await startServerPeer(mesh, open, budgetFor(file, 2), undefined, true, { stageRunner: inWorker(), stageBackend: 'wasm' }),
      await startServerPeer(mesh, open, budgetFor(file, 2)),
    ];
    try {
      const route = await routeOf(coordinator, 2);
      const workerPeer = peers[0].snapshot();
      expect(workerPeer.stage).toMatchObject({ status: 'ready', backend: 'wasm', backendDetail: expect.stringMatching(/in a worker/) });
      expect(peers[1].snapshot().stage?.backendDetail).toBe('WebAssembly on this page');
      // The head hears which backend each held stage runs on.
      await until('the worker peer gossips its stage backend', () =>
        mesh.companion.node
          .memberList()
          .find((m) => m.peerId === workerPeer.peerId)
          ?.state?.models.some((h) => h.backend === 'wasm'),
      );

      const tokens = [1, 5, 9, 13, 2, 40, 7];
      // Unsplit on WASM; the session's own tail runs on the reference kernels, so rounding differs a little.
      const cpu = await computeFor('cpu');
      const expected = await (await openPipeline(file, [[0, 4]], cpu)).createSession().forward(tokens);
      const session = createMeshSession({
        node: mesh.companion.node,
        coordinator,
        head: await openHead(file),
        tail: await openTail(file),
        nEmbd: 32,
        nVocab: 48,
        maxPositions: 256,
        plan: route.plan,
        stageTimeoutMs: 5000,
        topology: 'star',
      });
      const got = new Float32Array(tokens.length * 48);
      got.set(await session.extend(tokens.slice(0, 5)), 0);
      got.set(await session.extend(tokens.slice(5, 6)), 5 * 48);
      got.set(await session.extend(tokens.slice(6)), 6 * 48);
      session.free();
      let worst = 0;
      for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(got[i] - expected[i]));
      expect(worst).toBeLessThan(1e-4);
    } finally {
      coordinator.stop();
      for (const p of peers) await p.stop().catch(() => {});
      await mesh.stop();
    }
  });
});
