// A stage's hard limits against a member that abuses it, over real libp2p streams: a frame with NaN
// or more tokens than MAX_FRAME_TOKENS is refused with the reason sent back; past the cap on streams
// per peer a new one is refused (and allowed again once one closes); a session with no frame for
// the idle time is closed and its cache freed; and the stage still serves honest frames after it all.
import { lpStream } from '@libp2p/utils';
import type { Stream } from '@libp2p/interface';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openModel } from '../../engine/model.ts';
import { synthModelBytes } from '../../engine/testing/synthetic-models.ts';
import { memorySource } from '../../gguf/byte-source.ts';
import { decodeActivationFrame, encodeActivationFrame, MAX_FRAME_TOKENS } from '../../protocol/mesh-activation-frame.ts';
import type { PeerNode } from '../net/peer-node.ts';
import { ACTIVATION_PROTOCOL } from '../net/protocols.ts';
import { encodeHello } from './activation-hello.ts';
import { decodeRefusal } from './stage-limits.ts';
import { StageServer } from './stage-server.ts';
import { startServerPeer, startTestMesh, until, type TestMesh } from '../testing/test-mesh.ts';

const bytes = synthModelBytes({ nLayer: 2, nEmbd: 16, nFf: 32, nVocab: 24, seed: 5 });
const WIDTH = 16;
let mesh: TestMesh;
let server: StageServer;
let member: PeerNode;

beforeAll(async () => {
  mesh = await startTestMesh();
  server = new StageServer({ node: mesh.companion.node, openModel: async () => openModel(memorySource(bytes)), limits: { streamsPerPeer: 3, idleMs: 600 } });
  await server.start();
  server.follow({
    model: 'synth',
    layerCount: 2,
    epoch: 0,
    mode: 'solo',
    head: mesh.companion.node.selfPeerId,
    tail: mesh.companion.node.selfPeerId,
    excluded: [],
    stages: [{ peerId: mesh.companion.node.selfPeerId, layers: { start: 0, end: 2 }, shard: { kind: 'dense' } }],
  });
  await until('the stage loaded', () => server.state().status === 'ready');
  member = await startServerPeer(mesh, async () => openModel(memorySource(bytes)), 0);
  await until('the member is in', () => mesh.companion.node.isMember(member.snapshot().peerId));
}, 60_000);

afterAll(async () => {
  server?.stop();
  await member?.stop().catch(() => {});
  await mesh?.stop();
});

async function open(): Promise<{ stream: Stream; lp: ReturnType<typeof lpStream> }> {
  const stream = await member.node!.dialProtocol(mesh.libp2p.getMultiaddrs()[0], ACTIVATION_PROTOCOL, { signal: AbortSignal.timeout(5000) });
  const lp = lpStream(stream);
  await lp.write(encodeHello({ model: 'synth', layers: { start: 0, end: 2 }, planEpoch: 0 }));
  return { stream, lp };
}

const frame = (values: Float32Array, tokenCount: number, position = 0) =>
  encodeActivationFrame({
    dtype: 'f32',
    sessionId: new Uint8Array(16),
    planEpoch: 0,
    position,
    tokenCount,
    width: WIDTH,
    payload: new Uint8Array(values.buffer),
  });

/** What the stage answers: a frame's token count, or its refusal's reason. */
async function answer(lp: ReturnType<typeof lpStream>): Promise<{ tokens?: number; refused?: string }> {
  const reply = (await lp.read({ signal: AbortSignal.timeout(5000) })).subarray();
  const refused = decodeRefusal(reply);
  if (refused !== undefined) return { refused };
  const f = decodeActivationFrame(reply);
  if (!f.ok) throw new Error(f.reason);
  return { tokens: f.value.tokenCount };
}

describe('a stage bounds what one peer can make it do', () => {
  it('refuses a NaN or infinite hidden state, and a frame over the token cap, saying why', async () => {
    const nan = new Float32Array(WIDTH * 2).fill(0.5);
    nan[WIDTH + 3] = Number.NaN;
    let s = await open();
    await s.lp.write(frame(nan, 2));
    expect((await answer(s.lp)).refused).toMatch(/value 19 \(token 1\) is NaN or infinite/);
    await s.stream.close(); // as the head does on a refusal: the stage's slot is free at once
    s = await open();
    await s.lp.write(frame(new Float32Array(WIDTH).fill(Number.NEGATIVE_INFINITY), 1));
    expect((await answer(s.lp)).refused).toMatch(/NaN or infinite/);
    await s.stream.close();
    s = await open();
    const n = MAX_FRAME_TOKENS + 1;
    await s.lp.write(frame(new Float32Array(WIDTH * n), n));
    expect((await answer(s.lp)).refused).toMatch(/token count/);
    await s.stream.close();
  });

  it('caps the streams one peer holds open, and takes a new one once one closes', async () => {
    await until('earlier streams closed', () => server.state().sessions === 0);
    const held = [await open(), await open(), await open()];
    for (const h of held) {
      await h.lp.write(frame(new Float32Array(WIDTH).fill(0.1), 1));
      expect(await answer(h.lp)).toEqual({ tokens: 1 });
    }
    const extra = await open();
    expect((await answer(extra.lp)).refused).toMatch(/already holds 3 activation streams/);
    await extra.stream.close();
    await held[0].stream.close();
    await until('one stream closed', () => server.state().sessions === 2);
    await new Promise((r) => setTimeout(r, 50)); // its slot is given back just after its session
    const next = await open();
    await next.lp.write(frame(new Float32Array(WIDTH).fill(0.1), 1));
    expect(await answer(next.lp)).toEqual({ tokens: 1 });
    for (const h of [...held.slice(1), next]) await h.stream.close();
  });

  it('closes a session idle past its time and frees its cache; a busy one stays', async () => {
    await until('earlier streams closed', () => server.state().sessions === 0);
    const idle = await open();
    const busy = await open();
    for (const s of [idle, busy]) {
      await s.lp.write(frame(new Float32Array(WIDTH).fill(0.2), 1));
      expect(await answer(s.lp)).toEqual({ tokens: 1 });
    }
    for (let i = 1; i <= 8; i++) {
      await new Promise((r) => setTimeout(r, 150));
      await busy.lp.write(frame(new Float32Array(WIDTH).fill(0.2), 1, i));
      expect(await answer(busy.lp)).toEqual({ tokens: 1 });
    }
    await until('the idle session was closed', () => server.state().sessions === 1, 5000);
    await expect(idle.lp.read({ signal: AbortSignal.timeout(2000) })).rejects.toThrow();
    await busy.stream.close();
  });
});
