// The head observing its servers over a real mesh: it measures its own round trip to each, times
// each ready stage's layers, and a server that claims 10^9 tokens/s and 2^50 bytes is held to what
// the head saw: it never takes the plan over, and the honest stages keep their shares and serve.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openModel, type ModelFile } from '../../engine/model.ts';
import { synthModelBytes } from '../../engine/testing/synthetic-models.ts';
import { memorySource } from '../../gguf/byte-source.ts';
import { CapacityLedger } from '../capacity.ts';
import { modelMemory } from '../layer-memory.ts';
import type { PeerNode } from '../net/peer-node.ts';
import { budgetFor, routeOf, startCoordinator, startServerPeer, startTestMesh, until, type TestMesh } from '../testing/test-mesh.ts';
import { CapacityProbe } from './capacity-probe.ts';
import type { PipelineCoordinator } from './coordinator.ts';

const bytes = synthModelBytes({ nLayer: 4, nEmbd: 32, nFf: 64, nVocab: 48, seed: 11 });
let mesh: TestMesh;
let file: ModelFile;
let coordinator: PipelineCoordinator;
const ledger = new CapacityLedger();
const peers: PeerNode[] = [];

beforeAll(async () => {
  mesh = await startTestMesh();
  file = await openModel(memorySource(bytes));
  coordinator = startCoordinator(mesh, 'synth', file, { capacity: ledger });
  const open = async () => openModel(memorySource(bytes));
  for (let i = 0; i < 2; i++) peers.push(await startServerPeer(mesh, open, budgetFor(file, 2)));
  // The liar: it runs real layers, but says it lends 2^50 bytes and runs 10^9 tokens/s per layer.
  peers.push(await startServerPeer(mesh, open, 2 ** 50, undefined, true, { layerTokensPerSecond: 1e9 }));
}, 60_000);

afterAll(async () => {
  coordinator?.stop();
  for (const p of peers) await p.stop().catch(() => {});
  await mesh?.stop();
});

describe('the head holds claims to what it observed', () => {
  it('a lying server gets no more than an honest one, before and after the head timed it', async () => {
    const liar = peers[2].snapshot().peerId;
    const honest = peers.slice(0, 2).map((p) => p.snapshot().peerId);
    const layersOf = (peerId: string) => {
      const s = coordinator.currentPlan()?.stages.find((x) => x.peerId === peerId);
      return s ? s.layers.end - s.layers.start : 0;
    };
    await until('all three servers in the plan’s basis', () => coordinator.currentBasis()?.peers.length === 3, 30_000);
    const route = await until('a ready plan', () => coordinator.route(), 30_000);
    expect(route.plan.stages.length).toBeGreaterThanOrEqual(2);
    // Untimed: its budget counts as the median one, so it cannot hold the model alone.
    expect(layersOf(liar)).toBeLessThanOrEqual(2);
    expect(ledger.held(liar).map((h) => h.field)).toContain('memoryBudgetBytes');

    const probe = new CapacityProbe({ node: mesh.companion.node, route: () => coordinator.route(), ledger, width: 32, memory: modelMemory(file.header) });
    await probe.round();
    // One round trip alone holds nobody (it may be a busy moment, capacity.ts): two rounds.
    for (const id of [...honest, liar]) expect(ledger.observedRtt(id), `round trip to ${id} after one round`).toBeUndefined();
    await probe.round();
    for (const id of [...honest, liar]) expect(ledger.observedRtt(id), `round trip to ${id}`).toBeGreaterThanOrEqual(0);
    for (const s of route.plan.stages) expect(ledger.observedSpeed(s.peerId), `timed ${s.peerId}`).toBeGreaterThan(0);
    // Once the liar ran a stage, the timing holds its claimed speed (10^9 is never planned on), and
    // its budget to twice that stage.
    expect(route.plan.stages.some((s) => s.peerId === liar)).toBe(true);
    await until(
      'the liar held to its timed speed',
      () => /faster than the head timed it/.test(ledger.held(liar).find((h) => h.field === 'layerTokensPerSecond')?.why ?? ''),
      10_000,
    );
    const planned = coordinator.currentBasis()?.peers.find((p) => p.peerId === liar);
    expect(planned?.layerTokensPerSecond).toBeLessThan(1e9);
    expect(planned?.memoryBudgetBytes).toBeLessThan(2 ** 40);
    expect(layersOf(liar)).toBeLessThanOrEqual(Math.max(...honest.map(layersOf)));
    // Every server accepts the held-down plan (plan-check.ts), the liar included, and the route is ready.
    await routeOf(coordinator, coordinator.currentPlan()!.stages.length, 30_000);
    for (const p of peers) expect(p.snapshot().planRefused).toBeUndefined();
    probe.stop();
  }, 90_000);
});
