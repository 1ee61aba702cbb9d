// Round-trip measurement on a stream of its own: the measuring peer writes a few small frames and
// times each echo; the smallest is what it gossips as its round trip (the planner's cap compares it).
// The smallest, not the median: a busy event loop on either side (a page loading, a flood of
// messages) adds its stall to some samples, and a plan should not drop a peer for a busy second;
// the link's own latency is in every sample. One stream for all samples, so stream set-up is not timed.
import type { Stream } from '@libp2p/interface';
import { lpStream } from '@libp2p/utils';

const PING_BYTES = 8;
/** An echo server answers at most this many pings per stream (a measurement takes a handful). */
const MAX_PINGS = 64;
export const RTT_SAMPLES = 5;
const RTT_TIMEOUT_MS = 10_000;

/** Stream handler: echoes each ping back unchanged until the measuring side closes the stream. */
export async function echoPings(stream: Stream): Promise<void> {
  const signal = AbortSignal.timeout(RTT_TIMEOUT_MS);
  try {
    const lp = lpStream(stream, { maxDataLength: PING_BYTES });
    for (let i = 0; i < MAX_PINGS; i++) {
      let ping: Uint8Array;
      try {
        ping = (await lp.read({ signal })).subarray();
      } catch {
        break; // closed by the measuring side: done
      }
      await lp.write(ping, { signal });
    }
    await stream.close({ signal }).catch(() => {});
  } catch (error) {
    stream.abort(error instanceof Error ? error : new Error(String(error)));
  }
}

export interface RttOptions {
  readonly samples?: number;
  /**
   * Delay added before each echo is read: a simulated slow link (tests of the planner's round-trip
   * cap). The measured time includes it, as it would a real link's latency.
   */
  readonly addedLatencyMs?: number;
}

/** Smallest round trip in ms of `samples` pings on `stream` (closed afterwards). Throws when the peer does not echo. */
export async function measureRtt(stream: Stream, o: RttOptions = {}): Promise<number> {
  const signal = AbortSignal.timeout(RTT_TIMEOUT_MS);
  const lp = lpStream(stream, { maxDataLength: PING_BYTES });
  const times: number[] = [];
  try {
    for (let i = 0; i < (o.samples ?? RTT_SAMPLES); i++) {
      const ping = crypto.getRandomValues(new Uint8Array(PING_BYTES));
      const started = performance.now();
      await lp.write(ping, { signal });
      if (o.addedLatencyMs) await new Promise((resolve) => setTimeout(resolve, o.addedLatencyMs));
      const pong = (await lp.read({ signal })).subarray();
      if (pong.length !== PING_BYTES || pong.some((b, j) => b !== ping[j])) throw new Error('the echo differs from the ping');
      times.push(performance.now() - started);
    }
    await stream.close({ signal }).catch(() => {});
  } catch (error) {
    stream.abort(error instanceof Error ? error : new Error(String(error)));
    throw error;
  }
  return Math.min(...times);
}
