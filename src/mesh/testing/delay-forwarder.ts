// A TCP forwarder that adds a fixed one-way delay in each direction, put in front of a peer's
// listener (its announced address) so every link to it has a round trip of 2 × delay more than
// loopback's: the latency of real links, where this kernel has no netem.
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface DelayForwarder {
  readonly port: number;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (closed again: a listener bound right after gets it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Data written to `to` `delayMs` after it arrived on `from`, in order (timers of one delay fire in order). */
function pipeDelayed(from: Socket, to: Socket, delayMs: number): void {
  from.on('data', (chunk) => {
    setTimeout(() => {
      if (!to.destroyed) to.write(chunk);
    }, delayMs);
  });
  from.on('end', () => setTimeout(() => to.end(), delayMs));
  from.on('error', () => to.destroy());
  from.on('close', () => setTimeout(() => to.destroy(), delayMs + 1));
}

/** Listens on `port` (0: any) of 127.0.0.1 and forwards every connection to `targetPort`, `delayMs` each way. */
export async function startDelayForwarder(targetPort: number, delayMs: number, port = 0): Promise<DelayForwarder> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((inbound) => {
    inbound.setNoDelay(true);
    const outbound = connect(targetPort, '127.0.0.1');
    outbound.setNoDelay(true);
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    }
    pipeDelayed(inbound, outbound, delayMs);
    pipeDelayed(outbound, inbound, delayMs);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
