// Round-trip measurement on a stream of its own: the measuring peer writes a few small frames and
// times each echo; the smallest is what it gossips as its round trip (the planner's cap compares it).
// The smallest, not the median: a busy event loop on either side (a page loading, a flood of
// messages) adds its stall to some samples, and a plan should not drop a peer for a busy second;
// the link's own latency is in every sample. One stream for all samples, so stream set-up is not timed.
// On a direct link the same stream then times the echo of a 16 KiB frame (a decode frame of a
// 4096-wide model) twice: the link's throughput, the fastest of the two beyond the round trip.
// Never on a relayed link, whose 128 KiB cap a few measurements would use up.
import type { Stream } from '@libp2p/interface';
import { lpStream } from '@libp2p/utils';

const PING_BYTES = 8;
/** The frame timed for throughput. */
export const BULK_BYTES = 16 * 1024;
const BULK_SAMPLES = 2;
/** Below this much time beyond the round trip, a transfer is too quick to time: the throughput counts as this bound. */
const MIN_TRANSFER_MS = 0.01;
/** An echo server answers at most this many pings per stream (a measurement takes a handful). */
const MAX_PINGS = 64;
export const RTT_SAMPLES = 5;
const RTT_TIMEOUT_MS = 10_000;

/** Stream handler: echoes each ping back unchanged until the measuring side closes the stream. */
export async function echoPings(stream: Stream): Promise<void> {
  const signal = AbortSignal.timeout(RTT_TIMEOUT_MS);
  try {
    const lp = lpStream(stream, { maxDataLength: BULK_BYTES });
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
   * cap; a function: asked at each echo, a link slow for a moment). The measured time includes it, as it would a real link's latency.
   */
  readonly addedLatencyMs?: number | (() => number);
}

export interface LinkMeasure {
  /** Smallest round trip of the pings, ms. */
  readonly rttMs: number;
  /** Bytes/s both ways, from the bulk echoes; absent when not asked or the peer echoes no bulk frame (an older peer). */
  readonly bytesPerSecond?: number;
}

/** Smallest round trip in ms of `samples` pings on `stream` (closed afterwards). Throws when the peer does not echo. */
export async function measureRtt(stream: Stream, o: RttOptions = {}): Promise<number> {
  return (await measureLink(stream, o)).rttMs;
}

/** The round trip, then with `bulk` (a direct link only) the throughput too; throws when the peer echoes no ping. */
export async function measureLink(stream: Stream, o: RttOptions & { readonly bulk?: boolean } = {}): Promise<LinkMeasure> {
  const signal = AbortSignal.timeout(RTT_TIMEOUT_MS);
  const lp = lpStream(stream, { maxDataLength: BULK_BYTES });
  const echo = async (bytes: number): Promise<number> => {
    const ping = crypto.getRandomValues(new Uint8Array(bytes));
    const started = performance.now();
    await lp.write(ping, { signal });
    const added = typeof o.addedLatencyMs === 'function' ? o.addedLatencyMs() : o.addedLatencyMs;
    if (added) await new Promise((resolve) => setTimeout(resolve, added));
    const pong = (await lp.read({ signal })).subarray();
    if (pong.length !== bytes || pong.some((b, j) => b !== ping[j])) throw new Error('the echo differs from the ping');
    return performance.now() - started;
  };
  const times: number[] = [];
  try {
    for (let i = 0; i < (o.samples ?? RTT_SAMPLES); i++) times.push(await echo(PING_BYTES));
  } catch (error) {
    stream.abort(error instanceof Error ? error : new Error(String(error)));
    throw error;
  }
  const rttMs = Math.min(...times);
  let bytesPerSecond: number | undefined;
  if (o.bulk) {
    try {
      let fastest = Infinity;
      for (let i = 0; i < BULK_SAMPLES; i++) fastest = Math.min(fastest, await echo(BULK_BYTES));
      bytesPerSecond = (2 * BULK_BYTES * 1000) / Math.max(MIN_TRANSFER_MS, fastest - rttMs);
    } catch (error) {
      // An older peer's echo takes pings only: the round trip stands, the throughput stays unknown.
      stream.abort(error instanceof Error ? error : new Error(String(error)));
      return { rttMs };
    }
  }
  await stream.close({ signal }).catch(() => {});
  return { rttMs, ...(bytesPerSecond === undefined ? {} : { bytesPerSecond }) };
}
