// FrameStream over a stand-in stream that cuts the bytes sent at arbitrary places, as a transport
// may: messages come out whole and in order, and as lpStream (the same wire format) would read them.
import { lpStream } from '@libp2p/utils';
import type { Stream } from '@libp2p/interface';
import { StreamMessageEvent } from '@libp2p/interface';
import { describe, expect, it } from 'vitest';
import { FrameStream } from './frame-stream.ts';

/** A stream whose sent bytes land on `peer` re-cut into chunks of the sizes `cut` yields. */
function fakeStream(cut: () => number) {
  const target = new EventTarget() as EventTarget & { peer?: EventTarget; sent: Uint8Array[] };
  target.sent = [];
  const stream = Object.assign(target, {
    send(data: Uint8Array) {
      const bytes = data.subarray();
      target.sent.push(bytes);
      for (let at = 0; at < bytes.length; ) {
        const n = Math.max(1, Math.min(cut(), bytes.length - at));
        const peer = target.peer as (EventTarget & { paused?: boolean; held?: Uint8Array[] }) | undefined;
        // Like libp2p: a paused stream keeps what arrives and emits it on resume.
        if (peer?.paused) peer.held!.push(bytes.slice(at, at + n));
        else peer?.dispatchEvent(new StreamMessageEvent(bytes.slice(at, at + n)));
        at += n;
      }
      return true;
    },
    onDrain: async () => {},
    abort: () => {},
    paused: false,
    pause() {
      stream.paused = true;
    },
    held: [] as Uint8Array[],
    resume() {
      stream.paused = false;
      while (!stream.paused && stream.held.length) target.dispatchEvent(new StreamMessageEvent(stream.held.shift()!));
    },
    // What lpStream checks for and reads (it takes this for a live stream).
    push: () => {},
    log: Object.assign(() => {}, { error: () => {}, trace: () => {}, newScope: () => ({}) }),
    remoteWriteStatus: 'writable',
    readBufferLength: 0,
  });
  return stream as unknown as Stream & { peer?: EventTarget; sent: Uint8Array[]; paused: boolean };
}

function rng(seed: number) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

describe('FrameStream', () => {
  it('delivers every message whole and in order however the bytes are cut', async () => {
    const rand = rng(3);
    const a = fakeStream(() => 1 + Math.floor(rand() * 700));
    const b = fakeStream(() => 1 << 30);
    a.peer = b;
    const writer = new FrameStream(a, 1 << 20);
    const reader = new FrameStream(b, 1 << 20);
    const sizes = [0, 1, 127, 128, 300, 16_383, 16_384, 70_000, 5, 2088];
    const messages = sizes.map((n, k) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + k) & 255));
    const first = reader.read();
    await expect(reader.read()).rejects.toThrow(/one read at a time/);
    for (const m of messages) await writer.write(m);
    // One send per message: prefix and body together.
    expect(a.sent).toHaveLength(messages.length);
    expect(await first).toEqual(messages[0]);
    for (const m of messages.slice(1)) expect(await reader.read()).toEqual(m);
  });

  it('refuses a length over its limit, and ends reads when the stream ends', async () => {
    const a = fakeStream(() => 3);
    const b = fakeStream(() => 1 << 30);
    a.peer = b;
    const reader = new FrameStream(b, 1000);
    const writer = new FrameStream(a, 1 << 20);
    const pending = reader.read();
    await writer.write(new Uint8Array(1001));
    await expect(pending).rejects.toThrow(/over the 1000-byte limit/);

    const c = fakeStream(() => 1 << 30);
    const d = fakeStream(() => 1 << 30);
    c.peer = d;
    const r2 = new FrameStream(d, 1000);
    await new FrameStream(c, 1000).write(Uint8Array.of(9, 9));
    d.dispatchEvent(new Event('remoteCloseWrite'));
    // What arrived before the end is still read; then the end.
    expect(await r2.read()).toEqual(Uint8Array.of(9, 9));
    await expect(r2.read()).rejects.toThrow(/closed/);
    const aborted = new AbortController();
    const r3 = new FrameStream(
      fakeStream(() => 1),
      1000,
    );
    const waiting = r3.read(aborted.signal);
    aborted.abort(new Error('timed out'));
    await expect(waiting).rejects.toThrow(/timed out/);
  });

  it('reads what it writes, and interoperates with lpStream both ways', async () => {
    const rand = rng(7);
    const sizes = [1, 127, 128, 300, 16_384, 70_000, 2088, 0];
    const messages = sizes.map((n, k) => Uint8Array.from({ length: n }, (_, i) => (i * 17 + k) & 255));
    for (const [fromLp, toLp] of [
      [false, false],
      [true, false],
      [false, true],
    ]) {
      const a = fakeStream(() => 1 + Math.floor(rand() * 500));
      const b = fakeStream(() => 1 + Math.floor(rand() * 500));
      a.peer = b;
      b.peer = a;
      const reader = toLp ? lpStream(b) : new FrameStream(b, 1 << 20);
      const writer = fromLp ? lpStream(a) : new FrameStream(a, 1 << 20);
      for (const m of messages) {
        const read = reader.read();
        await writer.write(m);
        const got = await read;
        expect(got.subarray()).toEqual(m);
      }
    }
  });

  it('pauses a stream whose messages pile up unread, and resumes it once they are read down', async () => {
    const [a, b] = [fakeStream(() => 1000), fakeStream(() => 1000)];
    a.peer = b;
    const reader = new FrameStream(b, 64);
    const writer = new FrameStream(a, 64);
    for (let i = 0; i < 40; i++) await writer.write(new Uint8Array([i]));
    // 16 taken in, the other 24 left with the stream (and, on a real muxer, its window then stops the sender).
    expect(b.paused).toBe(true);
    expect((b as unknown as { held: Uint8Array[] }).held).toHaveLength(24);
    const got: number[] = [];
    for (let i = 0; i < 40; i++) got.push((await reader.read())[0]);
    expect(b.paused).toBe(false);
    expect(got).toEqual(Array.from({ length: 40 }, (_, i) => i));
  });
});
