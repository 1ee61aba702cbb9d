// The pipeline end to end in Node: the companion's mesh node plans a 4-layer model across three
// peers (budgets too small for one), each loads only its range, and a session run through their
// activation streams gives the logits of the unsplit model. Then the middle peer leaves mid-run:
// the session replans, replays, and goes on with the same logits. Once per topology: star (the
// head talks to each stage in turn), chain (each stage forwards to the next), and chain asked for
// where the stages have no direct links to each other (it falls back to star, with the same logits).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openHead } from '../../engine/head.ts';
import { openModel } from '../../engine/model.ts';
import { openPipeline } from '../../engine/pipeline.ts';
import { openTail } from '../../engine/tail.ts';
import { synthModelBytes } from '../../engine/testing.ts';
import { memorySource } from '../../gguf/byte-source.ts';
import { modelMemory } from '../layer-memory.ts';
import type { PeerNode } from '../net/peer-node.ts';
import type { PipelineCoordinator } from './coordinator.ts';
import { createMeshSession } from './mesh-session.ts';
import { routeOf, startCoordinator, startServerPeer, startTestMesh, type TestMesh } from './test-mesh.ts';

const bytes = synthModelBytes({ nLayer: 4, nEmbd: 32, nFf: 64, nVocab: 48, seed: 7 });

const cases = [
  { topology: 'star', direct: true, chained: false },
  { topology: 'chain', direct: true, chained: true },
  { topology: 'chain', direct: false, chained: false },
] as const;

describe.each(cases)('a model split across three peers ($topology, direct links between stages: $direct)', ({ topology, direct, chained }) => {
  let mesh: TestMesh;
  let coordinator: PipelineCoordinator;
  const peers: PeerNode[] = [];

  beforeAll(async () => {
    mesh = await startTestMesh();
    coordinator = startCoordinator(mesh, 'synth', await openModel(memorySource(bytes)));
  });

  afterAll(async () => {
    coordinator?.stop();
    for (const p of peers) await p.stop().catch(() => {});
    await mesh?.stop();
  });

  it('gives the unsplit logits, and the same logits after the middle stage leaves mid-session', async () => {
    const file = await openModel(memorySource(bytes));
    const largest = Math.max(...modelMemory(file.header).layerBytes);
    const opened: string[] = [];
    for (let i = 0; i < 3; i++) {
      // Two layers' worth each: no peer can hold all four.
      peers.push(await startServerPeer(mesh, async (model) => {
        opened.push(model);
        return openModel(memorySource(bytes));
      }, Math.floor(largest * 2.5), undefined, direct));
    }
    const route = await routeOf(coordinator, 3);
    expect(route.plan.stages.map((s) => s.layers.end - s.layers.start).reduce((a, b) => a + b)).toBe(4);
    expect(new Set(opened)).toEqual(new Set(['synth']));
    for (const p of peers) expect(p.snapshot().stage?.status).toBe('ready');

    const local = (await openPipeline(file)).createSession();
    const tokens = [1, 5, 9, 13, 2, 40, 7, 33, 21, 8];
    const expected = await local.forward(tokens);
    const nVocab = 48;
    let recovered: { failed: string; ms: number } | undefined;
    const session = createMeshSession({
      node: mesh.companion.node, coordinator, head: await openHead(file), tail: await openTail(file), nEmbd: 32, nVocab, maxPositions: 256,
      plan: route.plan, stageTimeoutMs: 3000, topology, onRecovered: (info) => (recovered = info),
    });
    // Batched prefill of six tokens, then one at a time.
    const got = new Float32Array(tokens.length * nVocab);
    got.set(await session.extend(tokens.slice(0, 6)), 0);
    got.set(await session.extend(tokens.slice(6, 7)), 6 * nVocab);
    // Rollback: the stages truncate their caches when the next frame comes at the earlier position.
    await session.extend([3, 3]);
    session.truncate(7);
    got.set(await session.extend(tokens.slice(7, 8)), 7 * nVocab);

    // Four batches so far: chained, the first two stages sent each on to the next stage, not back to the head.
    const forwarded = route.plan.stages.map((st) => peers.find((p) => p.snapshot().peerId === st.peerId)!.snapshot().stage!.forwarded);
    expect(forwarded).toEqual(chained ? [4, 4, 0] : [0, 0, 0]);

    // The middle stage leaves: the next token replans without it and replays the eight held.
    const middle = route.plan.stages[1].peerId;
    await peers.find((p) => p.snapshot().peerId === middle)!.stop();
    got.set(await session.extend(tokens.slice(8)), 8 * nVocab);
    expect(recovered?.failed).toBe(middle);
    expect(session.plan!.stages.map((s) => s.peerId)).not.toContain(middle);
    expect(session.plan!.stages).toHaveLength(2);
    for (let i = 0; i < expected.length; i++) expect(Math.abs(got[i] - expected[i])).toBeLessThan(1e-4);
    console.log(`pipeline.test (${topology}${direct ? '' : ', no direct links'}): recovered from the middle stage leaving in ${recovered!.ms} ms`);
    session.free();
  }, 60_000);
});
