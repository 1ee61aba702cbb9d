import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SETTING } from './h3-wire.ts';
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
