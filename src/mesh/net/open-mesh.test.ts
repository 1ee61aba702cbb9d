// Public and named meshes on the running parts: the companion heads one by name beside nothing
// secret, peers find its head by the name alone on the relay and join, the public listing shows
// public meshes and never named or private ones, and a server that joined by name serves its
// share of a split with the same greedy tokens as the unsplit model.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLibp2pNode, webSocketAddress, type CompanionLibp2p } from '../../companion/libp2p-node.ts';
import { startNostrRelay, type RunningNostrRelay } from '../../companion/nostr-relay.ts';
import { openHead } from '../../engine/head.ts';
import { openModel } from '../../engine/model.ts';
import { openPipeline } from '../../engine/pipeline.ts';
import { openTail } from '../../engine/tail.ts';
import { synthModelBytes } from '../../engine/testing/synthetic-models.ts';
import { memorySource } from '../../gguf/byte-source.ts';
import { createIdentity } from '../identity.ts';
import { modelMemory } from '../layer-memory.ts';
import { createChallenge, proveMembership, verifyMembership } from '../membership.ts';
import { PipelineCoordinator } from '../pipeline/coordinator.ts';
import { createMeshSession } from '../pipeline/mesh-session.ts';
import { startCompanionMesh, type CompanionMesh } from './companion-mesh.ts';
import { startOpenCompanionMesh, type OpenCompanionMesh } from './open-companion-mesh.ts';
import { openMeshLink, readOpenMeshLink } from './open-mesh-link.ts';
import { listPublicMeshes, openMeshKeys, OpenMeshError, resolveOpenMesh } from './open-mesh.ts';
import { PeerNode } from './peer-node.ts';

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('open mesh keys', () => {
  it('derive the same membership from the same name, and a different one from another name or visibility', async () => {
    const a = await openMeshKeys('Demo  Mesh', 'named');
    const b = await openMeshKeys(' demo mesh', 'named');
    const other = await openMeshKeys('demo mesh 2', 'named');
    const pub = await openMeshKeys('demo mesh', 'public');
    expect(b.access.meshId).toBe(a.access.meshId);
    expect(pub.access.meshId).not.toBe(a.access.meshId);
    const context = { proverPeerId: 'prover', verifierPeerId: 'verifier', challenge: createChallenge() };
    const proof = await proveMembership(a.membership, context);
    expect(await verifyMembership(b.membership, context, proof)).toBe(true);
    expect(await verifyMembership(other.membership, context, proof)).toBe(false);
    expect(await verifyMembership(pub.membership, context, proof)).toBe(false);
  });

  it('make links the app reads', () => {
    expect(openMeshLink('http://127.0.0.1:8080/', 'demo mesh', 'named')).toBe('http://127.0.0.1:8080/#mesh=demo%20mesh');
    expect(openMeshLink('http://127.0.0.1:8080/', 'lab', 'public')).toBe('http://127.0.0.1:8080/#public=lab');
    expect(readOpenMeshLink('http://127.0.0.1:8080/#mesh=demo%20mesh&role=client&auto=1')).toEqual({
      name: 'demo mesh',
      visibility: 'named',
      role: 'client',
      auto: true,
    });
    expect(readOpenMeshLink('http://127.0.0.1:8080/?public=lab')).toEqual({ name: 'lab', visibility: 'public', auto: false });
    expect(readOpenMeshLink('http://127.0.0.1:8080/#join=abc')).toBeUndefined();
    expect(readOpenMeshLink('http://127.0.0.1:8080/#mesh=%20%20')).toBeUndefined();
  });
});

interface Head {
  readonly libp2p: CompanionLibp2p;
  readonly mesh: OpenCompanionMesh;
}

describe('a companion heading a public and a named mesh', () => {
  let nostr: RunningNostrRelay;
  let url: string;
  const heads: Head[] = [];
  let privateLibp2p: CompanionLibp2p;
  let privateMesh: CompanionMesh;
  const peers: PeerNode[] = [];
  let coordinator: PipelineCoordinator | undefined;
  const bytes = synthModelBytes({ nLayer: 4, nEmbd: 32, nFf: 64, nVocab: 48, seed: 11 });

  const head = async (name: string, visibility: 'public' | 'named', models: string[] = []): Promise<Head> => {
    const identity = await createIdentity();
    const libp2p = await startLibp2pNode({ host: '127.0.0.1', port: 0, keyDir: null, privateKey: identity.libp2pKey });
    const mesh = await startOpenCompanionMesh({
      libp2p,
      identity,
      name,
      visibility,
      appUrl: 'http://127.0.0.1:8080/',
      nostrUrl: url,
      libp2pAddress: webSocketAddress(libp2p),
      models,
    });
    const h = { libp2p, mesh };
    heads.push(h);
    return h;
  };

  beforeAll(async () => {
    nostr = await startNostrRelay({ host: '127.0.0.1', port: 0 });
    url = `ws://127.0.0.1:${nostr.port}`;
    const identity = await createIdentity();
    privateLibp2p = await startLibp2pNode({ host: '127.0.0.1', port: 0, keyDir: null, privateKey: identity.libp2pKey });
    privateMesh = await startCompanionMesh({
      libp2p: privateLibp2p,
      identity,
      cacheDir: null,
      appUrl: 'http://127.0.0.1:8080/',
      nostrUrl: url,
      libp2pAddress: webSocketAddress(privateLibp2p),
    });
  });

  afterAll(async () => {
    coordinator?.stop();
    for (const p of peers) await p.stop().catch(() => {});
    for (const h of heads) {
      await h.mesh.stop();
      await h.libp2p.stop();
    }
    await privateMesh?.stop();
    await privateLibp2p?.stop();
    await nostr?.stop();
  });

  it('lists the public mesh for anyone, and neither the named nor the private one', async () => {
    const pub = await head('Open Lab', 'public', ['synth']);
    await head('secret-ish club', 'named');
    const listing = await listPublicMeshes(url);
    expect(listing).toEqual([{ meshId: pub.mesh.keys.access.meshId, name: 'open lab', peers: 1, models: ['synth'], headed: true }]);
    expect(privateMesh.invite.meshId).not.toBe(pub.mesh.keys.access.meshId);
  });

  it('resolves a named mesh by its name to the head’s address, and says plainly when no head announces a name', async () => {
    const named = heads[1];
    const found = await resolveOpenMesh('Secret-ish  Club', 'named', [url]);
    expect(found.head.body.peerId).toBe(named.libp2p.peerId.toString());
    expect(found.invite.bootstrap).toEqual([webSocketAddress(named.libp2p)]);
    expect(found.invite.relays).toEqual([url]);
    // The same name as a public mesh is another mesh: nobody heads it.
    const missing = await resolveOpenMesh('secret-ish club', 'public', [url], { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(OpenMeshError);
    expect((missing as OpenMeshError).code).toBe('mesh_no_head');
  });

  it('a peer joins a named mesh by name: the head checks its membership and it sees the head', async () => {
    const named = heads[1];
    const { invite, keys } = await resolveOpenMesh('secret-ish club', 'named', [url]);
    const peer = new PeerNode({ identity: await createIdentity(), invite, open: keys, role: 'client', backend: 'wasm', memoryBudgetBytes: 0, webrtc: false });
    peers.push(peer);
    await peer.start();
    const peerId = peer.snapshot().peerId;
    await until('the head counts the peer as a member', () => named.mesh.node.isMember(peerId));
    await until('the peer sees the head as its companion', () =>
      peer.snapshot().peers.some((p) => p.companion && p.member && p.peerId === named.libp2p.peerId.toString()),
    );
    expect(peer.snapshot().meshId).toBe(keys.access.meshId);
    // Its announcement is in clear on the relay: the public listing does not count it (the mesh is named).
    expect((await listPublicMeshes(url)).map((m) => m.name)).toEqual(['open lab']);
    // A peer of another mesh is not a member here.
    expect(privateMesh.node.isMember(peerId)).toBe(false);
  });

  it('servers that joined a public mesh by name serve a split with the same greedy tokens as the unsplit model', async () => {
    const pub = heads[0];
    const file = await openModel(memorySource(bytes));
    coordinator = new PipelineCoordinator({ node: pub.mesh.node, model: { id: 'synth', memory: modelMemory(file.header) }, republishMs: 500 });
    coordinator.start();
    const largest = Math.max(...modelMemory(file.header).layerBytes);
    for (let i = 0; i < 2; i++) {
      const { invite, keys } = await resolveOpenMesh('open lab', 'public', [url]);
      const peer = new PeerNode({
        identity: await createIdentity(),
        invite,
        open: keys,
        role: 'server',
        backend: 'wasm',
        webrtc: false,
        listen: ['/ip4/127.0.0.1/tcp/0/ws'],
        memoryBudgetBytes: Math.floor(largest * 2.5),
        openModel: async () => openModel(memorySource(bytes)),
      });
      peers.push(peer);
      await peer.start();
    }
    const route = await until('a ready 2-stage plan', () => {
      const r = coordinator!.route();
      return r && r.plan.stages.length === 2 ? r : undefined;
    });
    const nVocab = 48;
    const argmax = (logits: Float32Array) => logits.subarray(logits.length - nVocab).reduce((best, v, i, row) => (v > row[best] ? i : best), 0);
    const prompt = [1, 5, 9, 13];
    const solo = (await openPipeline(file)).createSession();
    const session = createMeshSession({
      node: pub.mesh.node,
      coordinator,
      head: await openHead(file),
      tail: await openTail(file),
      nEmbd: 32,
      nVocab,
      maxPositions: 256,
      plan: route.plan,
      stageTimeoutMs: 5000,
    });
    const soloTokens: number[] = [];
    const meshTokens: number[] = [];
    let [a, b] = [await solo.forward(prompt), await session.extend(prompt)];
    for (let step = 0; step < 8; step++) {
      soloTokens.push(argmax(a));
      meshTokens.push(argmax(b));
      [a, b] = [await solo.forward([soloTokens.at(-1)!]), await session.extend([meshTokens.at(-1)!])];
    }
    expect(meshTokens).toEqual(soloTokens);
    // Tokens that vary: a comparison a stuck split could not pass by chance.
    expect(new Set(soloTokens).size).toBeGreaterThan(2);
    // The stages are the peers that joined by name.
    const joined = new Set(peers.slice(-2).map((p) => p.snapshot().peerId));
    expect(route.plan.stages.every((s) => joined.has(s.peerId))).toBe(true);
    session.free();
  }, 60_000);
});
