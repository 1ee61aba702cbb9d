// A minimal WebTransport (draft-02) client on @matrixai/quic, for tests: it opens HTTP/3 as Chrome
// does (control stream with SETTINGS, extended CONNECT), checks the server certificate against
// `serverCertificateHashes`, and can also send what a browser never would (bad requests, garbage
// datagrams). `NodeWebTransport` wraps it in the browser's `WebTransport` shape, so
// @libp2p/webtransport's dialer runs in Node tests unchanged.
import { createHash, randomBytes } from 'node:crypto';
import { events, QUICClient, type QUICConnection, type QUICStream } from '@matrixai/quic';
import Logger, { LogLevel } from '@matrixai/logger';
import { concatBytes, decodeSettings, encodeFrame, encodeSettings, encodeVarint, FRAME, StreamReader, UNI, WEBTRANSPORT_STREAM } from '../h3-wire.ts';
import { decodeFieldSection, encodeFieldSection, type HeaderField } from '../qpack.ts';
import { acceptEarlyStreams, takeStreams } from '../quic-early-streams.ts';
import type { WebTransportBidiStream } from '../webtransport-server.ts';

/** TLS alert bad_certificate, as QUIC's crypto error range writes it (0x100 + 42). */
const BAD_CERTIFICATE = 0x12a;

export interface H3ClientOptions {
  readonly host: string;
  readonly port: number;
  /** SHA-256 digests of certificates to accept; empty = accept any (tests of the server alone). */
  readonly certificateHashes?: readonly Uint8Array[];
  /** SETTINGS to send; default: what Chrome sends for WebTransport. */
  readonly settings?: ReadonlyMap<number, number>;
}

export class H3Client {
  /** The server's SETTINGS, once its control stream brought them. */
  readonly settings: Promise<Map<number, number>>;
  /** Server-opened WebTransport bidirectional streams, by session id. */
  onServerStream: (sessionId: number, stream: WebTransportBidiStream) => void = (_id, stream) => void stream.readable.cancel().catch(() => {});

  private readonly client: QUICClient;

  private constructor(client: QUICClient, settings: Promise<Map<number, number>>) {
    this.client = client;
    this.settings = settings;
  }

  static async connect(options: H3ClientOptions): Promise<H3Client> {
    acceptEarlyStreams();
    const hashes = options.certificateHashes ?? [];
    const client = await QUICClient.createQUICClient({
      host: options.host,
      port: options.port,
      localHost: options.host.includes(':') ? '::' : '0.0.0.0',
      crypto: { ops: { randomBytes: async (data: ArrayBuffer) => void randomBytes(data.byteLength).copy(Buffer.from(data)) } },
      config: {
        applicationProtos: ['h3'],
        enableDgram: [true, 16, 16],
        verifyPeer: hashes.length > 0,
        maxIdleTimeout: 30_000,
        ...(hashes.length > 0
          ? {
              verifyCallback: async (certs: Uint8Array[]) => {
                const digest = createHash('sha256')
                  .update(certs[0] ?? new Uint8Array())
                  .digest();
                return hashes.some((h) => Buffer.compare(Buffer.from(h), digest) === 0) ? undefined : BAD_CERTIFICATE;
              },
            }
          : {}),
      },
      logger: new Logger('webtransport-client', LogLevel.SILENT),
    });
    let gotSettings!: (settings: Map<number, number>) => void;
    let noSettings!: (error: Error) => void;
    const settings = new Promise<Map<number, number>>((resolve, reject) => {
      gotSettings = resolve;
      noSettings = reject;
    });
    settings.catch(() => {});
    const h3 = new H3Client(client, settings);
    const connection = client.connection;
    connection.addEventListener(events.EventQUICConnectionStream.name, (event) => {
      const stream = (event as events.EventQUICConnectionStream).detail;
      h3.onStream(stream, gotSettings).catch((error: unknown) => noSettings(error as Error));
    });
    takeStreams(connection);
    const control = connection.newStream('uni').writable.getWriter();
    await control.write(concatBytes(encodeVarint(UNI.control), encodeSettings(options.settings ?? CHROME_SETTINGS)));
    control.releaseLock();
    return h3;
  }

  get connection(): QUICConnection {
    return this.client.connection;
  }

  private async onStream(stream: QUICStream, gotSettings: (s: Map<number, number>) => void): Promise<void> {
    const reader = new StreamReader(stream.readable);
    const type = await reader.varint();
    if ((stream.streamId & 0b10) === 0) {
      const sessionId = type === WEBTRANSPORT_STREAM ? await reader.varint() : undefined;
      if (sessionId === undefined) return reader.cancel(new Error('not a WebTransport stream'));
      this.onServerStream(sessionId, { readable: reader.rest(), writable: stream.writable });
      return;
    }
    if (type !== UNI.control) return reader.drain();
    const frame = await reader.frame(16 * 1024);
    if (frame?.type !== FRAME.settings) throw new Error(`the server's control stream starts with frame ${frame?.type}, not SETTINGS`);
    gotSettings(decodeSettings(frame.payload));
    await reader.drain();
  }

  /** Sends a request's fields on a new stream; resolves with the response's fields and the stream. */
  async request(fields: readonly HeaderField[]): Promise<{ fields: HeaderField[]; stream: QUICStream; reader: StreamReader }> {
    return this.requestBytes(encodeFrame(FRAME.headers, encodeFieldSection(fields)));
  }

  /** Sends raw bytes as a request stream's start (malformed requests in tests). */
  async requestBytes(bytes: Uint8Array): Promise<{ fields: HeaderField[]; stream: QUICStream; reader: StreamReader }> {
    const stream = this.connection.newStream('bidi');
    const writer = stream.writable.getWriter();
    await writer.write(bytes);
    writer.releaseLock();
    const reader = new StreamReader(stream.readable);
    const frame = await reader.frame(16 * 1024);
    if (frame?.type !== FRAME.headers) throw new Error(`the response starts with frame ${frame?.type}, not HEADERS`);
    return { fields: decodeFieldSection(frame.payload), stream, reader };
  }

  /** A WebTransport bidirectional stream in session `sessionId`. */
  async openStream(sessionId: number): Promise<WebTransportBidiStream> {
    const stream = this.connection.newStream('bidi');
    const writer = stream.writable.getWriter();
    await writer.write(concatBytes(encodeVarint(WEBTRANSPORT_STREAM), encodeVarint(sessionId)));
    writer.releaseLock();
    return { readable: stream.readable, writable: stream.writable };
  }

  /** Sends a QUIC DATAGRAM frame (js-quic has no public call for it; quiche's connection has). */
  async datagram(bytes: Uint8Array): Promise<void> {
    const internal = this.connection as unknown as { conn: { dgramSend(data: Uint8Array): void }; send(): Promise<void> };
    internal.conn.dgramSend(bytes);
    await internal.send();
  }

  async close(): Promise<void> {
    await this.client.destroy({ isApp: true, errorCode: 0, force: true }).catch(() => {});
  }
}

/** What Chrome 156 sends in its SETTINGS for WebTransport. */
export const CHROME_SETTINGS: ReadonlyMap<number, number> = new Map([
  [0x01, 0],
  [0x07, 0],
  [0x33, 1],
  [0x2b603742, 1],
]);

/** The request headers Chrome sends to open a session at `url`. */
export function connectRequest(url: URL): HeaderField[] {
  return [
    [':method', 'CONNECT'],
    [':protocol', 'webtransport'],
    [':scheme', 'https'],
    [':authority', url.host],
    [':path', `${url.pathname}${url.search}`],
    ['origin', 'http://127.0.0.1'],
    ['sec-webtransport-http3-draft02', '1'],
  ];
}

/**
 * The browser's `WebTransport` on H3Client: enough of it for @libp2p/webtransport's dialer. Like
 * Chrome, a refused certificate or a refused CONNECT says only that the opening handshake failed.
 */
export class NodeWebTransport {
  readonly ready: Promise<void>;
  readonly closed: Promise<void>;
  readonly incomingBidirectionalStreams: ReadableStream<WebTransportBidiStream>;
  private session: Promise<{ client: H3Client; id: number; connect: QUICStream }>;
  private incoming!: ReadableStreamDefaultController<WebTransportBidiStream>;

  constructor(url: string, options: { serverCertificateHashes?: Array<{ algorithm: string; value: ArrayBuffer | ArrayBufferView }> } = {}) {
    const target = new URL(url);
    this.incomingBidirectionalStreams = new ReadableStream({ start: (c) => void (this.incoming = c) });
    const hashes = (options.serverCertificateHashes ?? []).map(({ value }) =>
      ArrayBuffer.isView(value) ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength) : new Uint8Array(value),
    );
    this.session = (async () => {
      const client = await H3Client.connect({ host: target.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(target.port), certificateHashes: hashes });
      try {
        const { fields, stream } = await client.request(connectRequest(target));
        if (fields.find(([n]) => n === ':status')?.[1] !== '200') throw new Error('CONNECT refused');
        client.onServerStream = (_id, s) => this.incoming.enqueue(s);
        return { client, id: stream.streamId, connect: stream };
      } catch (error) {
        await client.close();
        throw error;
      }
    })();
    this.ready = this.session.then(
      () => undefined,
      (error: unknown) => {
        throw Object.assign(new Error('Opening handshake failed.', { cause: error }), { name: 'WebTransportError' });
      },
    );
    this.closed = this.ready.then(
      () => this.session.then(({ connect }) => connect.closedP),
      () => undefined,
    );
  }

  async createBidirectionalStream(): Promise<WebTransportBidiStream> {
    const { client, id } = await this.session;
    return client.openStream(id);
  }

  close(): void {
    this.session.then(({ client }) => client.close()).catch(() => {});
    try {
      this.incoming.close();
    } catch {
      // Already closed.
    }
  }
}
