// FrameStream over a real libp2p link (WebSockets, Noise, yamux): a sender that writes far faster
// than the receiver reads is stopped by the muxer's window once the receiver pauses, so what the
// receiver holds stays bounded (its unread messages, at most one 16 MiB window), and every message still arrives once
// it reads. A hello over its small first-message limit is refused from its length prefix alone.
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import type { Stream } from '@libp2p/interface';
import { webSockets } from '@libp2p/websockets';
import { createLibp2p, type Libp2p } from 'libp2p';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FrameStream } from './frame-stream.ts';

const PROTOCOL = '/mesh-llm-web/test-window/1';
const node = () =>
  createLibp2p({ addresses: { listen: ['/ip4/127.0.0.1/tcp/0/ws'] }, transports: [webSockets()], connectionEncrypters: [noise()], streamMuxers: [yamux()] });
let a: Libp2p;
let b: Libp2p;
const incoming: Stream[] = [];

beforeAll(async () => {
  [a, b] = [await node(), await node()];
  await b.handle(PROTOCOL, (stream) => void incoming.push(stream), { runOnLimitedConnection: true });
});
afterAll(async () => {
  await a?.stop();
  await b?.stop();
});

/** A stream from a to b whose first bytes are `first` (raw, length prefix included): the stream opens on b with them. */
async function pair(first: Uint8Array, maxLength: number, firstMaxLength?: number): Promise<{ writer: FrameStream; reader: FrameStream; stream: Stream }> {
  const before = incoming.length;
  const out = await a.dialProtocol(b.getMultiaddrs()[0], PROTOCOL);
  const writer = new FrameStream(out, maxLength);
  out.send(first);
  for (let i = 0; i < 200 && incoming.length === before; i++) await new Promise((r) => setTimeout(r, 10));
  const stream = incoming[before];
  return { writer, reader: new FrameStream(stream, maxLength, firstMaxLength), stream };
}

describe('FrameStream on a real muxer', () => {
  it('a receiver that stops reading stops the sender: memory held stays bounded, nothing is lost', async () => {
    const size = 64 * 1024;
    const { writer, reader, stream } = await pair(Uint8Array.of(1, 1), size + 16);
    expect((await reader.read())[0]).toBe(1);
    const sending = (async () => {
      for (let i = 0; i < 800; i++) {
        const m = new Uint8Array(size);
        m[0] = i & 0xff;
        await writer.write(m);
      }
    })();
    // 800 × 64 KiB = 50 MiB offered; the receiver holds what arrived before its pause took (at most
    // one yamux window, 16 MiB) and its unread messages: the rest waits with the sender. Held is
    // measured once more than 16 messages arrived (a loaded machine takes longer) and a moment later.
    const heldNow = () => (reader as unknown as { ready: Uint8Array[] }).ready.length * size + stream.readBufferLength;
    for (let waited = 0; waited < 20_000 && heldNow() <= 16 * size; waited += 50) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 1500));
    const held = heldNow();
    expect(held).toBeGreaterThan(16 * size);
    expect(held).toBeLessThanOrEqual(16 * size + 16 * 1024 * 1024 + size);
    for (let i = 0; i < 800; i++) expect((await reader.read())[0]).toBe(i & 0xff);
    await sending;
  });

  it('refuses a first message over its own limit from the length prefix, before its bytes come', async () => {
    // The prefix of a 1 MiB message and three bytes of it, against an 8 KiB first-message limit.
    const { reader } = await pair(Uint8Array.of(0x80, 0x80, 0x40, 1, 2, 3), 1 << 20, 8 * 1024);
    const started = performance.now();
    await expect(reader.read()).rejects.toThrow(/over the 8192-byte limit/);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('holds only the first message to the small limit', async () => {
    const { writer, reader } = await pair(Uint8Array.of(2, 7, 7), 1 << 20, 8 * 1024);
    await writer.write(new Uint8Array(100_000).fill(9));
    expect(await reader.read()).toEqual(Uint8Array.of(7, 7));
    expect((await reader.read()).length).toBe(100_000);
  });
});
