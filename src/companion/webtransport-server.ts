// A WebTransport server (HTTP/3, draft-02: what Chrome 156 speaks) on @matrixai/quic, on a UDP port
// of its own. It announces the SETTINGS Chrome needs, answers an extended CONNECT with 200, and hands
// each session up with the browser's WebTransport shape (bidirectional streams in and out, close).
// Node only: the page's bundle never imports it (see native-transports.ts).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { events, QUICServer, type QUICConnection, type QUICStream } from '@matrixai/quic';
import Logger, { LogLevel } from '@matrixai/logger';
import { MeshError } from '../protocol/errors.ts';
import { concatBytes, encodeFrame, encodeSettings, encodeVarint, FRAME, H3, H3Error, SETTING, StreamReader, UNI, WEBTRANSPORT_STREAM } from './h3-wire.ts';
import { decodeFieldSection, encodeFieldSection, type HeaderField } from './qpack.ts';
import { acceptEarlyStreams, takeStreams } from './quic-early-streams.ts';

export interface WebTransportBidiStream {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
}

/** One WebTransport session, shaped as the browser's `WebTransport` object is (what @libp2p/webtransport uses). */
export interface WebTransportSession {
  /** The CONNECT stream's id. */
  readonly id: number;
  /** The CONNECT request's :path (with its query). */
  readonly path: string;
  readonly remoteHost: string;
  readonly remotePort: number;
  readonly incomingBidirectionalStreams: ReadableStream<WebTransportBidiStream>;
  createBidirectionalStream(): Promise<WebTransportBidiStream>;
  close(): void;
  /** Resolves when the session ends, by either side. */
  readonly closed: Promise<void>;
}

export interface WebTransportServerOptions {
  readonly host: string;
  /** UDP port; 0 = any free one. */
  readonly port: number;
  readonly cert: string;
  readonly key: string;
  /** Which CONNECT paths open a session; others are answered 404. */
  readonly acceptPath: (path: string) => boolean;
  readonly onSession: (session: WebTransportSession) => void;
  readonly log?: (line: string) => void;
}

/** The largest HEADERS or SETTINGS frame read; a CONNECT is a few hundred bytes. */
const MAX_FRAME = 16 * 1024;
/** A stream naming a session not (yet) open waits this long for it. */
const SESSION_WAIT_MS = 5_000;

export const WEBTRANSPORT_SETTINGS: ReadonlyMap<number, number> = new Map([
  [SETTING.enableConnectProtocol, 1],
  [SETTING.h3Datagram, 1],
  [SETTING.h3DatagramDraft04, 1],
  [SETTING.enableWebTransport, 1],
]);

export class WebTransportServer {
  private readonly server: QUICServer;
  private readonly options: WebTransportServerOptions;

  constructor(options: WebTransportServerOptions) {
    acceptEarlyStreams();
    this.options = options;
    const secret = crypto.getRandomValues(new Uint8Array(32));
    const sign = (key: ArrayBuffer, data: ArrayBuffer) => createHmac('sha256', Buffer.from(key)).update(Buffer.from(data)).digest();
    this.server = new QUICServer({
      crypto: {
        key: secret.buffer,
        ops: {
          sign: async (key, data) => new Uint8Array(sign(key, data)).buffer,
          verify: async (key, data, sig) => {
            const want = sign(key, data);
            return want.length === sig.byteLength && timingSafeEqual(want, Buffer.from(sig));
          },
        },
      },
      config: {
        key: options.key,
        cert: options.cert,
        applicationProtos: ['h3'],
        // Datagrams on (Chrome refuses a WebTransport server without them); nothing reads them, and
        // quiche drops what overflows these short queues.
        enableDgram: [true, 16, 16],
        // A tab whose process died sends nothing (no TCP reset over UDP): the session ends when it
        // has been silent this long, while the server's keep-alives keep a live tab's session open.
        maxIdleTimeout: 8_000,
        keepAliveIntervalTime: 2_000,
        verifyPeer: false,
      },
      minIdleTimeout: 8_000,
      reasonToCode: (_type, reason) => (reason instanceof H3Error ? reason.h3Code : H3.internalError),
      logger: new Logger('webtransport', LogLevel.SILENT),
    });
    this.server.addEventListener(events.EventQUICServerConnection.name, (event) => {
      this.accept((event as events.EventQUICServerConnection).detail);
    });
    // Connection-level failures (a bad handshake, a timeout) end that connection only.
    this.server.addEventListener(events.EventQUICServerError.name, (event) => {
      this.options.log?.(`webtransport: ${(event as events.EventQUICServerError).detail.message}`);
    });
  }

  async start(): Promise<void> {
    try {
      await this.server.start({ host: this.options.host, port: this.options.port });
    } catch (error) {
      // js-quic says only that it could not bind; the reason is in its cause.
      if (causes(error).some((e) => (e as NodeJS.ErrnoException).code === 'EADDRINUSE')) {
        throw new MeshError(
          'port_in_use',
          `WebTransport: UDP port ${this.options.port} is already in use (another npm start?); stop it or pick another port with --webtransport-port`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  get port(): number {
    return this.server.port;
  }

  /** New connections use this certificate; open ones keep theirs. */
  updateCertificate(cert: string, key: string): void {
    this.server.updateConfig({ cert, key });
  }

  async stop(): Promise<void> {
    await this.server.stop({ isApp: true, errorCode: 0, force: true });
  }

  private accept(connection: QUICConnection): void {
    new H3Connection(connection, this.options);
  }
}

/** One QUIC connection's HTTP/3 state: its control stream, its sessions, and streams waiting for one. */
class H3Connection {
  private readonly sessions = new Map<number, Session>();
  private readonly waiting = new Map<number, Array<(session: Session | undefined) => void>>();
  private readonly connection: QUICConnection;
  private readonly options: WebTransportServerOptions;

  constructor(connection: QUICConnection, options: WebTransportServerOptions) {
    this.connection = connection;
    this.options = options;
    const log = (line: string) => options.log?.(`webtransport ${connection.remoteHost}:${connection.remotePort}: ${line}`);
    connection.addEventListener(events.EventQUICConnectionStream.name, (event) => {
      const stream = (event as events.EventQUICConnectionStream).detail;
      this.onStream(stream).catch((error: unknown) => {
        log(describe(error));
        stream.cancel(error instanceof H3Error ? error : new H3Error(H3.generalProtocolError, String(error)));
      });
    });
    connection.addEventListener(
      events.EventQUICConnectionStopped.name,
      () => {
        for (const session of this.sessions.values()) session.end();
        for (const wait of this.waiting.values()) for (const resolve of wait) resolve(undefined);
      },
      { once: true },
    );
    this.openControlStream().catch((error: unknown) => log(`control stream: ${describe(error)}`));
    takeStreams(connection);
  }

  private async openControlStream(): Promise<void> {
    const writer = this.connection.newStream('uni').writable.getWriter();
    // Never closed: closing the control stream is a connection error in HTTP/3.
    await writer.write(concatBytes(encodeVarint(UNI.control), encodeSettings(WEBTRANSPORT_SETTINGS)));
    writer.releaseLock();
  }

  private async onStream(stream: QUICStream): Promise<void> {
    const bidi = (stream.streamId & 0b10) === 0;
    const reader = new StreamReader(stream.readable);
    const type = await reader.varint();
    if (type === undefined) return;
    if (!bidi) {
      // The peer's control and QPACK streams carry nothing this side needs (no dynamic table);
      // WebTransport unidirectional streams are not used by libp2p. All are read to the end.
      if (type === UNI.webTransport || type === UNI.control || type === UNI.qpackEncoder || type === UNI.qpackDecoder) return reader.drain();
      reader.cancel(new H3Error(0x103, `unknown unidirectional stream type ${type}`));
      return;
    }
    if (type === WEBTRANSPORT_STREAM) {
      const sessionId = await reader.varint();
      if (sessionId === undefined) return;
      const session = await this.session(sessionId);
      if (!session) throw new H3Error(H3.requestRejected, `a stream names WebTransport session ${sessionId}, which is not open`);
      session.incoming({ readable: reader.rest(), writable: stream.writable });
      return;
    }
    if (type !== FRAME.headers) throw new H3Error(H3.frameUnexpected, `a request stream starts with frame type ${type}, not HEADERS`);
    const fields = decodeFieldSection(await reader.payload(MAX_FRAME, type));
    await this.onRequest(stream, reader, fields);
  }

  private async onRequest(stream: QUICStream, reader: StreamReader, fields: readonly HeaderField[]): Promise<void> {
    const header = (name: string) => fields.find(([n]) => n === name)?.[1];
    const writer = stream.writable.getWriter();
    const respond = async (status: number, extra: readonly HeaderField[] = []) =>
      writer.write(encodeFrame(FRAME.headers, encodeFieldSection([[':status', String(status)], ...extra])));
    const path = header(':path');
    if (header(':method') !== 'CONNECT' || header(':protocol') !== 'webtransport' || header(':scheme') !== 'https' || !path || !header(':authority')) {
      await respond(400);
      await writer.close();
      reader.cancel(new H3Error(H3.messageError, 'not a WebTransport CONNECT'));
      return;
    }
    if (!this.options.acceptPath(path)) {
      await respond(404);
      await writer.close();
      reader.cancel(new H3Error(H3.requestRejected, `no WebTransport endpoint at ${path}`));
      return;
    }
    await respond(200, [['sec-webtransport-http3-draft', 'draft02']]);
    writer.releaseLock();
    const session = new Session(stream, path, this.connection);
    this.sessions.set(stream.streamId, session);
    for (const resolve of this.waiting.get(stream.streamId) ?? []) resolve(session);
    this.waiting.delete(stream.streamId);
    this.options.onSession(session);
    // The CONNECT stream stays open for the session's life; its end (or a CLOSE capsule and FIN) ends it.
    await reader.drain().catch(() => {});
    this.sessions.delete(stream.streamId);
    session.end();
  }

  /** The session `id`, waiting briefly for one whose CONNECT is still on its way. */
  private session(id: number): Promise<Session | undefined> {
    const open = this.sessions.get(id);
    if (open) return Promise.resolve(open);
    return new Promise((resolve) => {
      const list = this.waiting.get(id) ?? [];
      this.waiting.set(id, list);
      const timer = setTimeout(() => resolve(undefined), SESSION_WAIT_MS);
      list.push((session) => {
        clearTimeout(timer);
        resolve(session);
      });
    });
  }
}

function causes(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e = error; e !== undefined && e !== null && chain.length < 8; e = (e as { cause?: unknown }).cause) chain.push(e);
  return chain;
}

/** js-quic rejects some reads with null or a bare code: a message for the log either way. */
function describe(error: unknown): string {
  return error instanceof Error ? error.message : `stream closed (${String(error)})`;
}

class Session implements WebTransportSession {
  readonly id: number;
  readonly incomingBidirectionalStreams: ReadableStream<WebTransportBidiStream>;
  readonly closed: Promise<void>;
  private controller!: ReadableStreamDefaultController<WebTransportBidiStream>;
  private resolveClosed!: () => void;
  private ended = false;
  readonly path: string;
  private readonly connect: QUICStream;
  private readonly connection: QUICConnection;

  constructor(connect: QUICStream, path: string, connection: QUICConnection) {
    this.connect = connect;
    this.path = path;
    this.connection = connection;
    this.id = connect.streamId;
    this.incomingBidirectionalStreams = new ReadableStream({ start: (c) => void (this.controller = c) });
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
  }

  get remoteHost(): string {
    return this.connection.remoteHost;
  }

  get remotePort(): number {
    return this.connection.remotePort;
  }

  incoming(stream: WebTransportBidiStream): void {
    if (this.ended) return void stream.readable.cancel().catch(() => {});
    this.controller.enqueue(stream);
  }

  async createBidirectionalStream(): Promise<WebTransportBidiStream> {
    if (this.ended) throw new MeshError('webtransport_closed', 'the WebTransport session is closed');
    const stream = this.connection.newStream('bidi');
    const writer = stream.writable.getWriter();
    await writer.write(concatBytes(encodeVarint(WEBTRANSPORT_STREAM), encodeVarint(this.id)));
    writer.releaseLock();
    return { readable: stream.readable, writable: stream.writable };
  }

  /** Ends the session: one session per connection here (libp2p's), so the connection goes with it. */
  close(): void {
    if (this.ended) return;
    this.end();
    this.connect.cancel(new H3Error(0, 'session closed'));
    this.connection.stop({ isApp: true, errorCode: 0, force: true }).catch(() => {});
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    try {
      this.controller.close();
    } catch {
      // Already closed by its reader.
    }
    this.resolveClosed();
  }
}
