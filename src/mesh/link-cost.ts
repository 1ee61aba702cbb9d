// What a stage's link to the head costs a token, from the round trip and throughput the server
// measured on it (net/rtt-stream.ts) and gossiped: the planner weighs it against compute, so a
// native stage on QUIC (a millisecond, tens of MB/s) is preferred to a tab on a relayed link (tens
// of milliseconds, a few hundred kB/s). Inputs come quantized (planner.ts); the arithmetic is
// + − × ÷ only (IEEE-exact on every JavaScript engine), so every peer gets the same numbers.

export interface LinkPeer {
  readonly rttMs: number;
  /** Measured bytes/s on the link to the head, quantized; 0 or absent: not measured. */
  readonly linkBytesPerSecond?: number;
}

/**
 * The frame whose transfer a link is charged for each token: one token's hidden state of a
 * 4096-wide model in f32. One reference size for every model, so the cost needs nothing but the
 * gossiped numbers (the plan's basis stays what it is); it ranks links, it does not time them.
 */
export const LINK_FRAME_BYTES = 16 * 1024;

/**
 * A link is slow when it costs a token at least this much (a relayed link across the internet: tens
 * to hundreds of ms; loopback and LAN links under load stay well below it)…
 */
export const SLOW_LINK_MS = 50;
/** …and at least this many times the median link of the peers taking part. */
export const SLOW_LINK_FACTOR = 4;

/** Per-token cost in ms of each peer's link: its round trip plus moving a frame at its throughput (unmeasured: the median of the measured). */
export function linkCosts<P extends LinkPeer>(peers: readonly P[]): Map<P, number> {
  const measured = peers
    .map((p) => p.linkBytesPerSecond ?? 0)
    .filter((b) => b > 0 && Number.isFinite(b))
    .sort((a, b) => a - b);
  const median = measured.length === 0 ? 0 : measured[Math.floor((measured.length - 1) / 2)];
  return new Map(
    peers.map((p) => {
      const rate = (p.linkBytesPerSecond ?? 0) > 0 ? p.linkBytesPerSecond! : median;
      return [p, p.rttMs + (rate > 0 ? (LINK_FRAME_BYTES * 1000) / rate : 0)];
    }),
  );
}

/** Peers whose link is slow beside the others' (SLOW_LINK_MS and SLOW_LINK_FACTOR × the median). */
export function slowLinks<P>(costs: ReadonlyMap<P, number>): Set<P> {
  const sorted = [...costs.values()].sort((a, b) => a - b);
  if (sorted.length === 0) return new Set();
  const median = sorted[Math.floor((sorted.length - 1) / 2)];
  const bar = Math.max(SLOW_LINK_MS, SLOW_LINK_FACTOR * median);
  return new Set([...costs].filter(([, ms]) => ms >= bar).map(([p]) => p));
}
