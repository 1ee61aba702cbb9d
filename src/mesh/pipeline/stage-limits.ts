// A stage's hard limits on what one peer may hold open on it, and how a stage tells the sender why
// it closed a stream. Past the cap a new activation stream is refused; a stream with no frame for
// the idle time is closed (its KV cache freed), so a peer that opens sessions and walks away, or
// opens hundreds, cannot hold a stage's memory.
//
// The refusal: "MLWE" then the reason in UTF-8 (at most MAX_REFUSAL_BYTES), written before the
// stage closes the stream; its magic differs from a frame's ("MLWA"), so the head reads the stage's
// own reason ("values must be finite") instead of a bare reset.
import { fromUtf8, utf8 } from '../bytes.ts';

/** Activation streams (sessions, and chain control streams) one peer may hold open on a stage. */
export const MAX_STREAMS_PER_PEER = 32;
/** A session with no frame for this long is closed: the head's own stage timeout is far shorter. */
export const STAGE_IDLE_MS = 5 * 60_000;

export const REFUSAL_MAGIC = 0x45574c4d; // "MLWE"
export const MAX_REFUSAL_BYTES = 1024;

export function encodeRefusal(reason: string): Uint8Array {
  const text = utf8(reason.slice(0, MAX_REFUSAL_BYTES / 4));
  const out = new Uint8Array(4 + text.length);
  new DataView(out.buffer).setUint32(0, REFUSAL_MAGIC, true);
  out.set(text, 4);
  return out;
}

/** The stage's reason when `bytes` is a refusal, else undefined. */
export function decodeRefusal(bytes: Uint8Array): string | undefined {
  if (bytes.length < 4 || bytes.length > 4 + MAX_REFUSAL_BYTES) return undefined;
  if (new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true) !== REFUSAL_MAGIC) return undefined;
  return fromUtf8(bytes.subarray(4));
}
