// js-quic (@matrixai/quic) shuts every stream that becomes readable while its connection is still
// starting, and a peer's unidirectional stream then throws InvalidStreamState out of `recv`. Chrome
// opens its HTTP/3 control and QPACK streams in the same flight that finishes the handshake, so a
// WebTransport server needs them. Applied once, at run time (nothing in node_modules is edited):
// while a connection starts, its streams stay in quiche; the owner calls `takeStreams` once it
// listens for them, and they arrive as any later stream does.
import { QUICConnection } from '@matrixai/quic';

const starting = new WeakSet<QUICConnection>();

interface Patchable {
  start(...args: unknown[]): Promise<void>;
  processStreams(): void;
}

let patched = false;

export function acceptEarlyStreams(): void {
  if (patched) return;
  patched = true;
  const proto = QUICConnection.prototype as unknown as Patchable;
  const start = proto.start;
  const processStreams = proto.processStreams;
  proto.start = async function (this: QUICConnection, ...args: unknown[]) {
    starting.add(this);
    try {
      return await start.apply(this, args);
    } finally {
      starting.delete(this);
    }
  };
  proto.processStreams = function (this: QUICConnection) {
    if (starting.has(this)) return;
    processStreams.call(this);
  };
}

/** Hands up the streams that arrived while `connection` started (call once its stream listener is set). */
export function takeStreams(connection: QUICConnection): void {
  (connection as unknown as Patchable).processStreams();
}
