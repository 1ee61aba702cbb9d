// The echo the mesh benches time links with (bench:mesh, bench:spec): length-prefixed frames as
// activations use, echoed back whole by every peer that serves it.
import { FrameStream } from '../../src/mesh/net/frame-stream.ts';
import type { PeerNode } from '../../src/mesh/net/peer-node.ts';

export const ECHO = '/mesh-llm-web/bench-echo/1.0.0';

export type Libp2pNode = NonNullable<PeerNode['node']>;

/** An echo stream over an open direct connection of `from` to `to`. */
export async function openEchoStream(from: Libp2pNode, to: string): Promise<FrameStream> {
  const connection = from.getConnections().find((c) => c.remotePeer.toString() === to && c.status === 'open' && !c.limits);
  if (!connection) throw new Error(`no direct connection to ${to} to measure`);
  return new FrameStream(await connection.newStream(ECHO), 1 << 20);
}

/** One round trip of `size` bytes, in ms. */
export async function ping(lp: FrameStream, size: number): Promise<number> {
  const payload = new Uint8Array(size);
  const started = performance.now();
  await lp.write(payload);
  await lp.read();
  return performance.now() - started;
}

export async function serveEcho(node: Libp2pNode): Promise<void> {
  await node.handle(ECHO, async (stream) => {
    const lp = new FrameStream(stream, 1 << 20);
    try {
      for (;;) await lp.write((await lp.read()).subarray());
    } catch {
      // the bench closed the stream
    }
  });
}
