// 1,000 malformed or forged messages of every kind a peer receives from strangers: gossip, layer
// plans, membership proofs, announcements and WebRTC signals (200 of each, deterministic). Each is
// refused by the check that guards it, none throws, and an honest message of the same kind sent
// after every 20 forged ones is still accepted. (Activation frames and hellos: pipeline/hardening.test.ts.)
import type { Event } from 'nostr-tools/pure';
import { finalizeEvent } from 'nostr-tools/pure';
import type { Relay } from 'nostr-tools/relay';
import { describe, expect, it } from 'vitest';
import type { LayerPlanMessage, PeerStateMessage } from '../protocol/mesh-messages.ts';
import { mulberry32 } from '../testing/mulberry32.ts';
import { createAnnouncement, validateAnnouncement } from './announce.ts';
import { utf8 } from './bytes.ts';
import { decodeGossip, encodeGossip } from './gossip-messages.ts';
import { createIdentity } from './identity.ts';
import { createChallenge, proveMembership, verifyMembership } from './membership.ts';
import { newMeshSecret, openMesh } from './mesh-keys.ts';
import type { PrivateMesh } from './net/membership-stream.ts';
import { checkPlan } from './net/plan-check.ts';
import { PlanWatch } from './net/plan-watch.ts';
import { SignalChannel, type Signal } from './net/nostr-signal.ts';
import { planLayers, type PlannerPeer } from './planner.ts';

const EACH = 200;
const HONEST_EVERY = 20;
const rand = mulberry32(13);
const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)];
const junk = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
const envelopeOf = (m: PeerStateMessage) => ({ protocol: m.protocol, peerId: m.peerId, seq: m.seq, sentAt: m.sentAt });
const privateMesh = async () => (await openMesh({ visibility: 'private', secret: newMeshSecret() })) as PrivateMesh;

/** Forged messages sent and refused; honest ones sent between them and accepted. */
const tally = () => ({ forged: 0, refused: 0, honest: 0, accepted: 0 });

describe('1,000 forged or malformed messages', () => {
  it('gossip: 200 refused by decodeGossip, honest state still accepted', async () => {
    const [a, b] = [await createIdentity(), await createIdentity()];
    const honest: PeerStateMessage = {
      type: 'peer-state',
      protocol: 1,
      peerId: a.peerId,
      seq: 1,
      sentAt: Date.now(),
      role: 'server',
      backend: 'wasm',
      memoryBudgetBytes: 1 << 30,
      layerTokensPerSecond: 800,
      rttMs: 3,
      models: [],
      activeSessions: 0,
    };
    const forgeries: Array<() => [Uint8Array, string]> = [
      () => [junk(1 + Math.floor(rand() * 400)), a.peerId],
      () => [encodeGossip(honest), b.peerId], // claims a, signed by b
      () => [utf8(JSON.stringify({ ...honest, protocol: 999 })), a.peerId],
      () => [utf8(JSON.stringify({ ...honest, memoryBudgetBytes: 2 ** 60 })), a.peerId],
      () => [utf8(JSON.stringify({ ...honest, rttMs: -1 })), a.peerId],
      () => [utf8(JSON.stringify({ ...honest, layerTokensPerSecond: 'fast' })), a.peerId],
      () => [utf8(JSON.stringify({ ...honest, type: 'take-over' })), a.peerId],
      () => [utf8(`${JSON.stringify(honest).slice(0, -1)},"x":"${'y'.repeat(70_000)}"}`), a.peerId],
      () => [utf8(JSON.stringify({ ...honest, models: new Array(100).fill({ model: 'm' }) })), a.peerId],
      () => [utf8('{"type":"layer-plan","plan":{"stages":"all"}}'), a.peerId],
      // A deny list with a malformed credential id, and one over the size bound.
      () => [utf8(JSON.stringify({ ...envelopeOf(honest), type: 'revocations', credentials: ['xyz'], peers: [] })), a.peerId],
      () => [utf8(JSON.stringify({ ...envelopeOf(honest), type: 'revocations', credentials: [], peers: new Array(600).fill(b.peerId) })), a.peerId],
    ];
    const t = tally();
    for (let i = 0; i < EACH; i++) {
      const [bytes, from] = pick(forgeries)();
      t.forged++;
      if (!decodeGossip(bytes, from).ok) t.refused++;
      if ((i + 1) % HONEST_EVERY === 0) {
        t.honest++;
        if (decodeGossip(encodeGossip({ ...honest, seq: i }), a.peerId).ok) t.accepted++;
      }
    }
    expect(t).toEqual({ forged: EACH, refused: EACH, honest: EACH / HONEST_EVERY, accepted: EACH / HONEST_EVERY });
  });

  it('plans: 200 from strangers or tampered are never followed, the head’s own still are', async () => {
    const pid = (n: number) => `12D3KooW${n.toString(36)}`.padEnd(52, 'x');
    const memory = { layerCount: 8, layerBytes: new Array(8).fill(100), layerExpertBytes: new Array(8).fill(0), headBytes: 0, tailBytes: 0, sharedBytes: 10 };
    const peers: PlannerPeer[] = [1, 2].map((n) => ({ peerId: pid(n), role: 'server', memoryBudgetBytes: 500, layerTokensPerSecond: 100, rttMs: 3 }));
    const result = planLayers({ id: 'm', ...memory }, peers);
    if (!result.ok) throw new Error(result.message);
    const head = pid(0);
    const basis = { peers, rttCapMs: 250, perLayerExtraBytes: 0, countsHeadTail: false };
    const message = (from: string, epoch: number, plan = result.plan): LayerPlanMessage => ({
      type: 'layer-plan',
      protocol: 1,
      peerId: from,
      seq: epoch,
      sentAt: 0,
      plan: { ...plan, epoch },
      basis,
    });
    const me = pid(1);
    const said: PeerStateMessage = {
      type: 'peer-state',
      protocol: 1,
      peerId: me,
      seq: 1,
      sentAt: 0,
      role: 'server',
      backend: 'wasm',
      memoryBudgetBytes: 500,
      layerTokensPerSecond: 100,
      rttMs: 3,
      models: [],
      activeSessions: 0,
    };
    const watch = new PlanWatch({ isHead: (p) => p === head });
    expect(watch.onGossip(message(head, 0))).toBe(true);
    const t = tally();
    let epoch = 1;
    for (let i = 0; i < EACH; i++) {
      t.forged++;
      const kind = i % 4;
      if (kind === 0) {
        // A stranger's plan, with a higher epoch than the head's: the watch ignores it.
        if (!watch.onGossip(message(pid(100 + i), 1_000_000 + i))) t.refused++;
      } else {
        // The head's id, but a plan no planner gives from its basis (moved ranges, all layers to one
        // stage, a basis that credits this peer with more): the server's check refuses its share.
        const stages = result.plan.stages;
        const tampered =
          kind === 1
            ? { ...result.plan, stages: stages.map((s, j) => ({ ...s, layers: j === 0 ? { start: 0, end: 7 } : { start: 7, end: 8 } })) }
            : kind === 2
              ? { ...result.plan, stages: [{ ...stages[1], layers: { start: 0, end: 8 } }], mode: 'solo' as const }
              : result.plan;
        const forgedBasis = kind === 3 ? { ...basis, peers: peers.map((p) => (p.peerId === me ? { ...p, layerTokensPerSecond: 10_000 } : p)) } : basis;
        if (!checkPlan({ ...tampered, epoch: result.plan.epoch }, forgedBasis, me, [said], memory).ok) t.refused++;
      }
      if ((i + 1) % HONEST_EVERY === 0) {
        t.honest++;
        if (watch.onGossip(message(head, epoch++)) && checkPlan(result.plan, basis, me, [said], memory).ok) t.accepted++;
      }
    }
    expect(t).toEqual({ forged: EACH, refused: EACH, honest: EACH / HONEST_EVERY, accepted: EACH / HONEST_EVERY });
    expect(watch.latest()?.epoch).toBe(epoch - 1);
  });

  it('membership proofs: 200 forged answers fail, an honest one passes', async () => {
    const mesh = await privateMesh();
    const other = await privateMesh();
    const context = () => ({ proverPeerId: 'prover', verifierPeerId: 'verifier', challenge: createChallenge() });
    const forgeries: Array<(c: ReturnType<typeof context>) => Promise<unknown>> = [
      async () => junk(32),
      async () => junk(Math.floor(rand() * 64)),
      async (c) => proveMembership(other, c), // another mesh's key
      async (c) => proveMembership(mesh, { ...c, proverPeerId: 'someone-else' }), // made for another prover
      async (c) => proveMembership(mesh, { ...c, challenge: createChallenge() }), // replayed from another challenge
      async () => 'not bytes',
      async () => null,
      async (c) => (await proveMembership(mesh, c)).subarray(0, 31),
    ];
    const t = tally();
    for (let i = 0; i < EACH; i++) {
      const c = context();
      t.forged++;
      if (!(await verifyMembership(mesh, c, await pick(forgeries)(c)))) t.refused++;
      if ((i + 1) % HONEST_EVERY === 0) {
        t.honest++;
        const h = context();
        if (await verifyMembership(mesh, h, await proveMembership(mesh, h))) t.accepted++;
      }
    }
    expect(t).toEqual({ forged: EACH, refused: EACH, honest: EACH / HONEST_EVERY, accepted: EACH / HONEST_EVERY });
  });

  it('announcements: 200 forged or malformed events are refused, an honest one validates', async () => {
    const mesh = await privateMesh();
    const other = await privateMesh();
    const [a, mallory] = [await createIdentity(), await createIdentity()];
    const facts = {
      multiaddrs: ['/ip4/127.0.0.1/tcp/1/ws'],
      role: 'server' as const,
      backend: 'wasm' as const,
      memoryBudgetBytes: 1 << 20,
      layerTokensPerSecond: 0,
      models: [],
    };
    const now = Math.floor(Date.now() / 1000);
    const real = await createAnnouncement(a, mesh, facts, { now });
    const resign = (e: Event, changes: Partial<Event>) =>
      finalizeEvent({ kind: e.kind, created_at: e.created_at, tags: e.tags, content: e.content, ...changes }, mallory.nostrSecretKey);
    const forgeries: Array<() => Promise<unknown>> = [
      async () => ({ ...real, sig: real.sig.replace(/^./, (c) => (c === '0' ? '1' : '0')) }),
      async () => ({ ...real, content: `${real.content}x` }),
      async () => resign(real, {}), // the member's sealed body under another key: its binding names a
      async () => createAnnouncement(mallory, other, facts, { now }), // another mesh's key
      async () => createAnnouncement(a, mesh, facts, { now: now - 7200, ttlS: 600 }), // expired
      async () => createAnnouncement(a, mesh, facts, { now: now + 3600 }), // from the future
      async () => ({ ...real, tags: 'none' }),
      async () => ({ ...real, kind: 1 }),
      async () => JSON.parse(JSON.stringify(real).replace(real.id, 'f'.repeat(64))),
      async () => resign(real, { content: 'x'.repeat(40_000) }),
      async () => pick([null, 42, 'event', [], {}]),
    ];
    const t = tally();
    for (let i = 0; i < EACH; i++) {
      t.forged++;
      if (!(await validateAnnouncement(await pick(forgeries)(), mesh)).ok) t.refused++;
      if ((i + 1) % HONEST_EVERY === 0) {
        t.honest++;
        if ((await validateAnnouncement(real, mesh)).ok) t.accepted++;
      }
    }
    expect(t).toEqual({ forged: EACH, refused: EACH, honest: EACH / HONEST_EVERY, accepted: EACH / HONEST_EVERY });
  });

  it('WebRTC signals: 200 forged, replayed or misaddressed events are dropped with a reason, honest offers passed on', async () => {
    const mesh = await privateMesh();
    const other = await privateMesh();
    const [a, b, c] = [await createIdentity(), await createIdentity(), await createIdentity()];
    const published: Event[] = [];
    const relay = { publish: async (e: Event) => void published.push(e), subscribe: () => ({ close() {} }) } as unknown as Relay;
    const received: Signal[] = [];
    const receiver = new SignalChannel({ relay, identity: b, mesh, onSignal: (s) => received.push(s) });
    const sender = new SignalChannel({ relay, identity: a, mesh, onSignal: () => {} });
    const outsider = new SignalChannel({ relay, identity: c, mesh: other, onSignal: () => {} });
    const toB = { peerId: b.peerId, nostrPubkey: b.nostrPubkey };
    const last = async (ch: SignalChannel, to = toB) => {
      await ch.send(to, 'offer', SignalChannel.newSession(), 'v=0');
      return published[published.length - 1] as Event;
    };
    const replay = await last(sender);
    await receiver.receive(replay);
    const forgeries: Array<() => Promise<Event>> = [
      async () => replay,
      async () => last(outsider),
      async () => last(sender, { peerId: c.peerId, nostrPubkey: c.nostrPubkey }),
      async () => ({ ...(await last(sender)), content: 'enc1:AAAA' }),
      async () =>
        finalizeEvent({ kind: 28_672, created_at: Math.floor(Date.now() / 1000) - 600, tags: [['p', b.nostrPubkey]], content: 'x' }, c.nostrSecretKey),
      async () => ({ ...(await last(sender)), sig: '0'.repeat(128) }),
      async () => finalizeEvent({ kind: 28_672, created_at: Math.floor(Date.now() / 1000), tags: [['p', b.nostrPubkey]], content: 'junk' }, c.nostrSecretKey),
    ];
    const t = tally();
    for (let i = 0; i < EACH; i++) {
      t.forged++;
      const before = received.length;
      await receiver.receive(await pick(forgeries)());
      if (received.length === before) t.refused++;
      if ((i + 1) % HONEST_EVERY === 0) {
        t.honest++;
        const n = received.length;
        await receiver.receive(await last(sender));
        if (received.length === n + 1) t.accepted++;
      }
    }
    expect(t).toEqual({ forged: EACH, refused: EACH, honest: EACH / HONEST_EVERY, accepted: EACH / HONEST_EVERY });
    const dropped = Object.values(receiver.dropped()).reduce((s, n) => s + (n ?? 0), 0);
    expect(dropped).toBe(EACH);
  });
});
