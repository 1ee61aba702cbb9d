// A chained session leaves nothing open on its stages. libp2p refuses a 33rd inbound stream of one
// protocol on a connection, so a stream left half-closed per session made a healthy stage refuse
// the head's hello after about 30 requests (the soak's plans flipped on those false failures).
import { afterAll, expect, it } from 'vitest';
import { openHead } from '../../engine/head.ts';
import { openModel } from '../../engine/model.ts';
import { openTail } from '../../engine/tail.ts';
import { synthModelBytes } from '../../engine/testing/synthetic-models.ts';
import { memorySource } from '../../gguf/byte-source.ts';
import type { PeerNode } from '../net/peer-node.ts';
import { ACTIVATION_PROTOCOL } from '../net/protocols.ts';
import { budgetFor, routeOf, startCoordinator, startServerPeer, startTestMesh, until, type TestMesh } from '../testing/test-mesh.ts';
import type { PipelineCoordinator } from './coordinator.ts';
import { createMeshSession } from './mesh-session.ts';

const bytes = synthModelBytes({ nLayer: 4, nEmbd: 32, nFf: 64, nVocab: 48, seed: 11 });
let mesh: TestMesh | undefined;
let coordinator: PipelineCoordinator | undefined;
const peers: PeerNode[] = [];

afterAll(async () => {
  coordinator?.stop();
  for (const p of peers) await p.stop().catch(() => {});
  await mesh?.stop();
});

/** Activation streams the stage holds from the head (inbound, any state but gone). */
const fromHead = (peer: PeerNode, head: string) =>
  peer
    .node!.getConnections()
    .filter((c) => c.remotePeer.toString() === head)
    .flatMap((c) => c.streams.filter((s) => s.protocol === ACTIVATION_PROTOCOL && s.direction === 'inbound')).length;

it('runs 40 chained sessions in a row on the same links, and each stage holds no stream of the head afterwards', async () => {
  mesh = await startTestMesh();
  const file = await openModel(memorySource(bytes));
  coordinator = startCoordinator(mesh, 'synth', file);
  for (let i = 0; i < 2; i++) peers.push(await startServerPeer(mesh, async () => openModel(memorySource(bytes)), budgetFor(file, 2)));
  const route = await routeOf(coordinator, 2);
  const [head, tail] = [await openHead(file), await openTail(file)];
  const headId = mesh.companion.node.selfPeerId;
  for (let i = 0; i < 40; i++) {
    const session = createMeshSession({
      node: mesh.companion.node,
      coordinator: { waitForRoute: async () => route, markFailed: (peer, why) => expect.fail(`session ${i}: ${peer} failed: ${why}`) },
      head,
      tail,
      nEmbd: 32,
      nVocab: 48,
      maxPositions: 64,
      plan: route.plan,
      stageTimeoutMs: 5000,
      topology: 'chain',
    });
    await session.extend([1, 2, 3]);
    session.free();
  }
  await until('the stages closed every stream of the head', () => peers.every((p) => fromHead(p, headId) === 0), 10_000);
}, 60_000);
