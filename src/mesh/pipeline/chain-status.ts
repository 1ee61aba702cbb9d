// Control messages of chain mode, on the head's control stream to each stage (chain-route.ts): when
// the last stage's reply is late, the head probes every stage, and each answers how many positions
// its cache has completed for the session and whether forwarding to the next stage failed. The
// first stage that has not completed the frame (or does not answer) is the one that failed.
// Stages also send a status unasked while the chain is being set up: the last stage once its
// feeding stream arrives (the whole chain is wired), any stage that cannot open a direct stream to
// the next (the head then runs the session in star mode), and any stage fed NaN or infinite values by
// the stage before it (the head quarantines that one: the next stage refused its frame).
// Both are tiny binary messages whose magic differs from an activation frame's ("MLWA").
export const PROBE_MAGIC = 0x50574c4d; // "MLWP"
export const STATUS_MAGIC = 0x53574c4d; // "MLWS"
export const STATUS_BYTES = 9;

export interface ChainStatus {
  /** Positions completed (the stage cache's length after its last frame). */
  readonly done: number;
  /** The stage could not open, or write to, its stream to the next stage. */
  readonly forwardFailed: boolean;
  /** The stage's feeding stream has arrived (said by the last stage: every stream of the chain is open). */
  readonly wired: boolean;
  /** The previous stage fed it a frame with NaN or infinite values (refused). */
  readonly fedNonFinite?: boolean;
}

const magicOf = (bytes: Uint8Array) => (bytes.length >= 4 ? new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true) : -1);

export function encodeProbe(): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, PROBE_MAGIC, true);
  return out;
}

export const isProbe = (bytes: Uint8Array): boolean => bytes.length === 4 && magicOf(bytes) === PROBE_MAGIC;

export function encodeStatus(s: ChainStatus): Uint8Array {
  const out = new Uint8Array(STATUS_BYTES);
  const view = new DataView(out.buffer);
  view.setUint32(0, STATUS_MAGIC, true);
  view.setUint32(4, s.done, true);
  out[8] = (s.forwardFailed ? 1 : 0) | (s.wired ? 2 : 0) | (s.fedNonFinite ? 4 : 0);
  return out;
}

/** The status in `bytes`, or undefined when they are not a well-formed status message. */
export function decodeStatus(bytes: Uint8Array): ChainStatus | undefined {
  if (bytes.length !== STATUS_BYTES || magicOf(bytes) !== STATUS_MAGIC || bytes[8] > 7) return undefined;
  return {
    done: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true),
    forwardFailed: (bytes[8] & 1) !== 0,
    wired: (bytes[8] & 2) !== 0,
    ...((bytes[8] & 4) !== 0 ? { fedNonFinite: true } : {}),
  };
}
