// Server peers in a worker thread of their own (bench:stage-check --peers-thread): stages then
// compute beside the head, as on a real mesh, instead of taking turns with it on one thread.
import { parentPort, workerData } from 'node:worker_threads';
import { fileSource } from '../../src/engine/file-source.ts';
import { openModel } from '../../src/engine/model.ts';
import { decodeInvite } from '../../src/mesh/invite.ts';
import type { PeerNode } from '../../src/mesh/net/peer-node.ts';
import { startServerPeer } from '../../src/mesh/testing/test-mesh.ts';

const { token, path, budget, count } = workerData as { token: string; path: string; budget: number; count: number };
const invite = await decodeInvite(token);
const peers: PeerNode[] = [];
for (let i = 0; i < count; i++) peers.push(await startServerPeer({ invite }, async () => openModel(await fileSource(path)), budget));
parentPort!.postMessage('started');
parentPort!.on('message', async () => {
  for (const p of peers) await p.stop().catch(() => {});
  parentPort!.postMessage('stopped');
});
