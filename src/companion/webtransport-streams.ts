// libp2p's view of a WebTransport session on the server side, mirroring what @libp2p/webtransport's
// dialer builds on the browser's side: the session is the connection and its muxer (one WebTransport
// stream per libp2p stream), and a bare message stream carries the Noise handshake.
import type { AbortOptions, Logger, StreamMuxerFactory } from '@libp2p/interface';
import { AbstractMessageStream, AbstractMultiaddrConnection, AbstractStream, AbstractStreamMuxer, type SendResult } from '@libp2p/utils';
import type { Multiaddr } from '@multiformats/multiaddr';
import type { WebTransportBidiStream, WebTransportSession } from './webtransport-server.ts';

/** What libp2p hands `sendData` (its own copy of uint8arraylist's type). */
type Uint8ArrayList = Parameters<AbstractMessageStream['sendData']>[0];

/** Reads a WebTransport stream into a message stream's `onData` until it ends. */
function pump(stream: WebTransportBidiStream, into: { onData(data: Uint8Array): void; abort(err: Error): void }, onEnd: () => void): void {
  const reader = stream.readable.getReader();
  (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (value) into.onData(value);
      if (done) return onEnd();
    }
  })().catch((error: unknown) => into.abort(error instanceof Error ? error : new Error(String(error))));
}

/** The stream the Noise handshake runs on: bytes both ways, nothing more. */
export class HandshakeStream extends AbstractMessageStream {
  private readonly writer: WritableStreamDefaultWriter<Uint8Array>;

  constructor(stream: WebTransportBidiStream, log: Logger) {
    super({ log, direction: 'inbound' });
    this.writer = stream.writable.getWriter();
    pump(stream, this, () => {});
  }

  async close(options?: AbortOptions): Promise<void> {
    options?.signal?.throwIfAborted();
    await this.writer.close().catch(() => {});
  }

  sendData(data: Uint8ArrayList): SendResult {
    this.writer.write(data.subarray()).catch((error: unknown) => this.abort(error as Error));
    return { sentBytes: data.byteLength, canSendMore: true };
  }

  sendReset(err: Error): void {
    this.writer.abort(err).catch(() => {});
  }

  sendPause(): void {}
  sendResume(): void {}
}

/** One libp2p stream on one WebTransport bidirectional stream. */
class SessionStream extends AbstractStream {
  private readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  private readonly reader: ReadableStream<Uint8Array>;

  constructor(stream: WebTransportBidiStream, id: string, direction: 'inbound' | 'outbound', log: Logger) {
    super({ id, direction, log: log.newScope(`${direction}:${id}`), protocol: '' });
    this.writer = stream.writable.getWriter();
    this.reader = stream.readable;
    pump(stream, this, () => this.onRemoteCloseWrite());
  }

  sendData(data: Uint8ArrayList): SendResult {
    for (const chunk of data) this.writer.write(chunk).catch((error: unknown) => this.abort(error as Error));
    const desired = this.writer.desiredSize;
    const canSendMore = desired !== null && desired > 0;
    if (!canSendMore && desired !== null)
      this.writer.ready.then(
        () => this.safeDispatchEvent('drain'),
        (error: unknown) => this.abort(error as Error),
      );
    return { sentBytes: data.byteLength, canSendMore };
  }

  sendReset(err: Error): void {
    this.writer.abort(err).catch(() => {});
  }

  async sendCloseWrite(options?: AbortOptions): Promise<void> {
    options?.signal?.throwIfAborted();
    await this.writer.close().catch(() => {});
  }

  async sendCloseRead(options?: AbortOptions): Promise<void> {
    options?.signal?.throwIfAborted();
    await this.reader.cancel().catch(() => {});
  }

  sendPause(): void {}
  sendResume(): void {}
}

class SessionMuxer extends AbstractStreamMuxer<SessionStream> {
  private readonly session: WebTransportSession;
  private next = 0;

  constructor(session: WebTransportSession, maConn: AbstractMultiaddrConnection) {
    super(maConn, { protocol: '/webtransport', name: 'muxer' });
    this.session = session;
    const reader = session.incomingBidirectionalStreams.getReader();
    (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        this.onRemoteStream(new SessionStream(value, String(this.next++), 'inbound', this.log));
      }
    })().catch((error: unknown) => this.log.error('WebTransport session stopped taking streams - %e', error));
  }

  async onCreateStream(options: AbortOptions): Promise<SessionStream> {
    const stream = await this.session.createBidirectionalStream();
    options?.signal?.throwIfAborted();
    return new SessionStream(stream, String(this.next++), 'outbound', this.log);
  }

  onData(): void {}

  sendReset(): void {
    this.session.close();
  }
}

export function sessionMuxer(session: WebTransportSession): StreamMuxerFactory {
  return {
    protocol: '/webtransport',
    createStreamMuxer: (maConn) => new SessionMuxer(session, maConn as AbstractMultiaddrConnection),
  };
}

/** The session as libp2p's raw connection: its bytes go through the muxer, never through here. */
export class SessionConnection extends AbstractMultiaddrConnection {
  private readonly session: WebTransportSession;

  constructor(session: WebTransportSession, remoteAddr: Multiaddr, log: Logger) {
    super({ remoteAddr, direction: 'inbound', log });
    this.session = session;
    session.closed.then(
      () => this.onTransportClosed(),
      () => this.onTransportClosed(),
    );
  }

  sendData(data: Uint8ArrayList): SendResult {
    return { sentBytes: data.byteLength, canSendMore: true };
  }

  sendReset(): void {
    this.session.close();
  }

  async sendClose(options?: AbortOptions): Promise<void> {
    this.session.close();
    options?.signal?.throwIfAborted();
  }

  sendPause(): void {}
  sendResume(): void {}
}
