// One head implementation (src/mesh/pipeline/pipeline-head.ts), two heads: the companion's mesh node
// with its engine behind it, and a head tab's PeerNode (head-peer.ts, with no engine: role=client).
// Over Node peers linked by WebSockets, a client member's /v1/chat/completions runs through the plan
// of two server peers (one layer each), named in x-mesh-served-by, with the text one machine gives.
// The tab head, before any server joined, answers 503 mesh_unavailable; once it stops, its members
// say so (mesh_head_left) within a few seconds and the servers unload their shares.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../../tools/models/registry.ts';
import { createApiContext, handleApiRequest } from '../api/index.ts';
import { post } from '../api/testing/requests.ts';
import { startNostrRelay, type RunningNostrRelay } from '../companion/nostr-relay.ts';
import { Engine } from '../engine/engine.ts';
import { fileSource } from '../engine/file-source.ts';
import { openModel, type ModelFile } from '../engine/model.ts';
import { createIdentity } from '../mesh/identity.ts';
import { createInvite, type Invite } from '../mesh/invite.ts';
import { serveMeshApi } from '../mesh/net/api-stream.ts';
import { PeerNode } from '../mesh/net/peer-node.ts';
import { startPipelineHead } from '../mesh/pipeline/pipeline-head.ts';
import { budgetFor, startServerPeer, startTestMesh, until, type TestMesh } from '../mesh/testing/test-mesh.ts';
import { EngineProvider } from '../provider/engine-provider.ts';
import type { MeshError } from '../protocol/errors.ts';
import { startHeadPeer, type HeadPeer } from './head-peer.ts';

const MODEL = 'tiny-llama-f32';
const CHAT = { model: MODEL, messages: [{ role: 'user', content: 'Tell me a story about a fox.' }], max_tokens: 24, temperature: 0 };
const WS = ['/ip4/127.0.0.1/tcp/0/ws'];
let path: string;
let engine: Engine;
let solo: string;

const openFile = async (): Promise<ModelFile> => openModel(await fileSource(path));

beforeAll(async () => {
  path = await ensureModel(MODEL);
  engine = await Engine.load(path);
  const res = await handleApiRequest(post('/v1/chat/completions', CHAT), createApiContext({ provider: new EngineProvider([{ id: MODEL, engine }]) }));
  solo = (await res.json()).choices[0].message.content;
}, 120_000);

async function clientOf(invite: Invite): Promise<PeerNode> {
  const client = new PeerNode({ identity: await createIdentity(), invite, role: 'client', backend: 'wasm', memoryBudgetBytes: 0, webrtc: false, listen: WS });
  await client.start();
  await until('the client linked to the head', () => client.snapshot().peers.some((p) => p.companion && p.member && p.links.length > 0), 30_000);
  return client;
}

const ask = (client: PeerNode, body: unknown = CHAT) =>
  client.fetchApi(
    new Request('http://app.invalid/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  );

/** Two one-layer servers joined from `invite`; resolves once a two-stage plan of theirs is ready. */
async function twoServers(invite: Invite, file: ModelFile, ready: () => boolean): Promise<PeerNode[]> {
  const servers = [];
  for (let i = 0; i < 2; i++) servers.push(await startServerPeer({ invite }, openFile, budgetFor(file, 1)));
  await until('a ready two-stage plan', ready, 60_000);
  return servers;
}

async function expectServedByServers(client: PeerNode, servers: PeerNode[]): Promise<void> {
  const res = await ask(client);
  expect(res.status).toBe(200);
  const servedBy = res.headers.get('x-mesh-served-by') ?? '';
  for (const s of servers) expect(servedBy).toContain(s.snapshot().peerId);
  expect((await res.json()).choices[0].message.content).toBe(solo);
}

describe('the pipeline head in the companion', () => {
  let mesh: TestMesh;
  const peers: PeerNode[] = [];
  afterAll(async () => {
    for (const p of peers) await p.stop().catch(() => {});
    await mesh?.stop();
  });

  it('runs a member’s request through the plan of its server peers', async () => {
    mesh = await startTestMesh();
    const head = await startPipelineHead({
      node: mesh.companion.node,
      model: { id: MODEL, file: engine.model, tokenizer: engine.tokenizer },
      fallback: new EngineProvider([{ id: MODEL, engine }]),
      localStages: engine.stages,
      republishMs: 500,
    });
    const api = createApiContext({ provider: head.provider });
    await serveMeshApi(mesh.companion.node, (request, info) => handleApiRequest(request, api, info));
    peers.push(...(await twoServers(mesh.invite, engine.model, () => head.coordinator.route()?.plan.stages.length === 2)));
    const client = await clientOf(mesh.invite);
    peers.push(client);
    await expectServedByServers(client, peers.slice(0, 2));
    head.stop();
  }, 120_000);
});

describe('the pipeline head in a tab that made the mesh (role=client)', () => {
  let nostr: RunningNostrRelay;
  let head: HeadPeer;
  let invite: Invite;
  let client: PeerNode;
  const servers: PeerNode[] = [];

  beforeAll(async () => {
    nostr = await startNostrRelay({ host: '127.0.0.1', port: 0 });
    const identity = await createIdentity();
    invite = await createInvite({
      bootstrap: [`/p2p/${identity.peerId}`],
      relays: [`ws://127.0.0.1:${nostr.port}`],
      model: `http://127.0.0.1:1/models/${MODEL}.gguf`,
    });
    head = await startHeadPeer({
      identity,
      invite,
      role: 'client',
      memoryBudgetBytes: 0,
      model: { id: MODEL, file: await openFile() },
      peer: { webrtc: false, listen: WS },
      republishMs: 500,
    });
    client = await clientOf(invite);
  }, 60_000);

  afterAll(async () => {
    for (const p of [client, ...servers]) await p?.stop().catch(() => {});
    await head?.stop().catch(() => {});
    await nostr?.stop();
  });

  it('lists the model under the id requests use, and answers 503 mesh_unavailable with Retry-After while no server joined', async () => {
    const list = await (await client.fetchApi(new Request('http://app.invalid/v1/models'))).json();
    expect(list.data.map((m: { id: string }) => m.id)).toEqual([MODEL]);
    const res = await ask(client);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect((await res.json()).error).toMatchObject({ code: 'mesh_unavailable' });
  }, 30_000);

  it('runs a member’s request through the plan of the server peers that joined from its invite', async () => {
    servers.push(...(await twoServers(invite, engine.model, () => head.pipeline.coordinator.route()?.plan.stages.length === 2)));
    await expectServedByServers(client, servers);
    // The head's own page asks the same /v1 (its fetch('/v1/…')): the same plan.
    const own = await handleApiRequest(post('/v1/chat/completions', CHAT), head.api);
    expect(own.headers.get('x-mesh-served-by')).toContain(servers[0].snapshot().peerId);
  }, 120_000);

  it('once the head stops, its members say it left within a few seconds and the servers unload their shares', async () => {
    const stopped = Date.now();
    await head.stop();
    await until('the client says the head left', () => client.snapshot().headLeft, 10_000);
    const ms = Date.now() - stopped;
    console.info(`head-peer.test: members said the head left ${ms} ms after it stopped`);
    expect(ms).toBeLessThan(8000);
    await expect(ask(client)).rejects.toMatchObject({ code: 'mesh_head_left' } satisfies Partial<MeshError>);
    expect(client.snapshot().error).toMatch(/the mesh's head left/);
    for (const s of servers) await until('the server unloaded its share', () => s.snapshot().headLeft && s.snapshot().stage?.status === 'idle', 10_000);
  }, 30_000);
});
