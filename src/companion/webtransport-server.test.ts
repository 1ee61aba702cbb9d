import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { QUICClient } from '@matrixai/quic';
import Logger, { LogLevel } from '@matrixai/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concatBytes, encodeFrame, encodeVarint, FRAME, SETTING } from './h3-wire.ts';
import { connectRequest, H3Client } from './testing/webtransport-client.ts';
import { webTransportCertificate } from './tls.ts';
import { WebTransportServer, type WebTransportBidiStream, type WebTransportSession } from './webtransport-server.ts';

const PATH = '/.well-known/libp2p-webtransport?type=noise';
let server: WebTransportServer;
let hash: Uint8Array;
const sessions: WebTransportSession[] = [];

/** Echoes every stream of every session back to its sender. */
async function echo(session: WebTransportSession): Promise<void> {
  const reader = session.incomingBidirectionalStreams.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    value.readable.pipeTo(value.writable).catch(() => {});
  }
}

async function readAll(stream: WebTransportBidiStream): Promise<string> {
  const chunks: Uint8Array[] = [];
  const reader = stream.readable.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString();
}

async function send(stream: WebTransportBidiStream, text: string): Promise<void> {
  const writer = stream.writable.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
}

beforeAll(async () => {
  const certificate = await webTransportCertificate(['127.0.0.1']);
  hash = certificate.hash;
  server = new WebTransportServer({
    host: '127.0.0.1',
    port: 0,
    cert: certificate.cert,
    key: certificate.key,
    acceptPath: (path) => path === PATH,
    onSession: (session) => {
      sessions.push(session);
      echo(session).catch(() => {});
    },
  });
  await server.start();
});
afterAll(() => server.stop());

const url = () => new URL(`https://127.0.0.1:${server.port}${PATH}`);

describe('WebTransport server (draft-02)', () => {
  it('announces the SETTINGS Chrome needs and opens a session on CONNECT', async () => {
    const client = await H3Client.connect({ host: '127.0.0.1', port: server.port, certificateHashes: [hash] });
    try {
      const settings = await client.settings;
      expect(settings.get(SETTING.enableWebTransport)).toBe(1);
      expect(settings.get(SETTING.enableConnectProtocol)).toBe(1);
      expect(settings.get(SETTING.h3Datagram)).toBe(1);
      const { fields, stream } = await client.request(connectRequest(url()));
      expect(fields).toEqual([
        [':status', '200'],
        ['sec-webtransport-http3-draft', 'draft02'],
      ]);
      const bidi = await client.openStream(stream.streamId);
      await send(bidi, 'hello over webtransport');
      expect(await readAll(bidi)).toBe('hello over webtransport');
      expect(sessions.at(-1)?.path).toBe(PATH);
    } finally {
      await client.close();
    }
  });

  it('opens streams towards the client too', async () => {
    const client = await H3Client.connect({ host: '127.0.0.1', port: server.port, certificateHashes: [hash] });
    try {
      const got = new Promise<WebTransportBidiStream>((resolve) => (client.onServerStream = (_id, s) => resolve(s)));
      const { stream } = await client.request(connectRequest(url()));
      const session = sessions.at(-1);
      expect(session?.id).toBe(stream.streamId);
      const out = await session!.createBidirectionalStream();
      await send(out, 'from the server');
      expect(await readAll(await got)).toBe('from the server');
    } finally {
      await client.close();
    }
  });
});

/** A good client's round trip: the server is still serving. */
async function stillServing(): Promise<void> {
  const client = await H3Client.connect({ host: '127.0.0.1', port: server.port, certificateHashes: [hash] });
  try {
    const { stream } = await client.request(connectRequest(url()));
    const bidi = await client.openStream(stream.streamId);
    await send(bidi, 'still here');
    expect(await readAll(bidi)).toBe('still here');
  } finally {
    await client.close();
  }
}

const status = (fields: readonly (readonly [string, string])[]) => fields.find(([n]) => n === ':status')?.[1];

describe('WebTransport server, bad input', () => {
  it('answers a CONNECT that is not WebTransport 400, and an unknown path 404', async () => {
    const client = await H3Client.connect({ host: '127.0.0.1', port: server.port });
    try {
      const base = connectRequest(url());
      const without = (name: string) => base.filter(([n]) => n !== name);
      expect(status((await client.request(without(':protocol'))).fields)).toBe('400');
      expect(status((await client.request(without(':authority'))).fields)).toBe('400');
      expect(status((await client.request([[':method', 'GET'], ...without(':method')])).fields)).toBe('400');
      expect(status((await client.request([...without(':protocol'), [':protocol', 'websocket']])).fields)).toBe('400');
      const elsewhere = base.map(([n, v]) => (n === ':path' ? ([n, '/admin'] as const) : ([n, v] as const)));
      expect(status((await client.request(elsewhere)).fields)).toBe('404');
    } finally {
      await client.close();
    }
    await stillServing();
  });

  it('resets streams that start with garbage, a DATA frame, a bad field section or an oversized frame', async () => {
    const client = await H3Client.connect({ host: '127.0.0.1', port: server.port });
    try {
      const attempts = [
        randomBytes(64),
        encodeFrame(FRAME.data, Uint8Array.of(1, 2, 3)),
        encodeFrame(FRAME.headers, Uint8Array.of(0, 0, 0xff, 0xff, 0xff)),
        encodeFrame(FRAME.headers, Uint8Array.of(5, 0, 0xc0)),
        concatBytes(encodeVarint(FRAME.headers), encodeVarint(1 << 24)),
      ];
      for (const bytes of attempts) await expect(client.requestBytes(bytes)).rejects.toBeDefined();
    } finally {
      await client.close();
    }
    await stillServing();
  });

  it('keeps serving through garbage datagrams', async () => {
    const client = await H3Client.connect({ host: '127.0.0.1', port: server.port, certificateHashes: [hash] });
    try {
      const { stream } = await client.request(connectRequest(url()));
      for (let i = 0; i < 200; i++) await client.datagram(randomBytes(1 + (i % 1000)));
      const bidi = await client.openStream(stream.streamId);
      await send(bidi, 'after datagrams');
      expect(await readAll(bidi)).toBe('after datagrams');
    } finally {
      await client.close();
    }
    await stillServing();
  });

  it('crashes on none of 500 connection attempts with bad handshakes', async () => {
    const socket = createSocket('udp4');
    // 450 packets of noise, half of them shaped like QUIC long-header Initials.
    for (let i = 0; i < 450; i++) {
      const packet = randomBytes(1200);
      if (i % 2 === 0) packet.set([0xc0, 0, 0, 0, 1, 8], 0);
      await new Promise<void>((resolve) => socket.send(packet, server.port, '127.0.0.1', () => resolve()));
    }
    socket.close();
    // 50 real QUIC handshakes that fail: the wrong application protocol.
    const failed = await Promise.allSettled(
      Array.from({ length: 50 }, () =>
        QUICClient.createQUICClient(
          {
            host: '127.0.0.1',
            port: server.port,
            localHost: '0.0.0.0',
            crypto: { ops: { randomBytes: async (data: ArrayBuffer) => void randomBytes(data.byteLength).copy(Buffer.from(data)) } },
            config: { applicationProtos: ['not-h3'], verifyPeer: false },
            logger: new Logger('bad', LogLevel.SILENT),
          },
          { timer: 5_000 },
        ),
      ),
    );
    expect(failed.filter((r) => r.status === 'rejected').length).toBe(50);
    await stillServing();
  }, 60_000);
});
