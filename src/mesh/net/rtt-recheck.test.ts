// A server's first round trip to the head, measured in a busy moment, is measured again before it is
// gossiped: three browsers starting at once on two cores answered echoes hundreds of ms late for a
// moment, and the planner left that tab out (above its round-trip cap) until the next round, 10 s on.
import { afterAll, expect, it } from 'vitest';
import { openModel } from '../../engine/model.ts';
import { synthModelBytes } from '../../engine/testing/synthetic-models.ts';
import { memorySource } from '../../gguf/byte-source.ts';
import { startServerPeer, startTestMesh, until, type TestMesh } from '../testing/test-mesh.ts';
import type { PeerNode } from './peer-node.ts';

const bytes = synthModelBytes({ nLayer: 2, nEmbd: 16, nFf: 32, nVocab: 32, seed: 3 });
let mesh: TestMesh | undefined;
const peers: PeerNode[] = [];

afterAll(async () => {
  for (const p of peers) await p.stop().catch(() => {});
  await mesh?.stop();
});

it('a first round trip of 400 ms that is fast a second later is gossiped fast; a link slow every time stays slow', async () => {
  mesh = await startTestMesh();
  const open = async () => openModel(memorySource(bytes));
  let echoes = 0;
  // Busy for the first measurement's echoes only (one echo per measurement: samples 1, no bulk on a relayed link).
  const busyOnce = await startServerPeer(mesh, open, 1e6, undefined, false, { rtt: { samples: 1, addedLatencyMs: () => (echoes++ < 1 ? 400 : 0) } });
  const slow = await startServerPeer(mesh, open, 1e6, undefined, false, { rtt: { samples: 1, addedLatencyMs: 400 } });
  peers.push(busyOnce, slow);
  const gossiped = (p: PeerNode) => mesh!.companion.node.memberList().find((m) => m.peerId === p.snapshot().peerId)?.state?.rttMs;
  const [fast, stillSlow] = await until('both gossiped a round trip', () => {
    const a = gossiped(busyOnce);
    const b = gossiped(slow);
    return a !== undefined && b !== undefined && [a, b];
  });
  expect(fast).toBeLessThan(100);
  expect(stillSlow).toBeGreaterThanOrEqual(400);
}, 60_000);
