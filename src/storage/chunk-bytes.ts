// Copying a stored chunk's bytes (weight-cache.ts keeps them as Blobs) into a reader's buffer. A Blob
// is read as a byte stream into a small buffer this module reuses, so a model load makes no garbage
// per chunk (reading it whole with arrayBuffer() would allocate every chunk once more).
import { StorageError } from './errors.ts';
import type { StoredChunk } from './weight-cache.ts';

/** Bytes per stream read: the stream hands back at most this much at a time. */
const PIECE = 1 << 20;
/** Buffers free for the next read (reads under way side by side each take one). */
const pieces: ArrayBuffer[] = [];

const damaged = () =>
  new StorageError(
    'storage_damaged',
    'a stored chunk ended before its size: the weight cache is damaged; delete the model in the Models view and download it again',
  );

export function chunkLength(chunk: StoredChunk): number {
  return chunk instanceof Blob ? chunk.size : chunk.byteLength;
}

/** Copies the chunk's bytes [from, from + into.length) into `into` (the range must lie inside the chunk). */
export async function copyChunk(chunk: StoredChunk, from: number, into: Uint8Array): Promise<void> {
  if (!(chunk instanceof Blob)) {
    into.set(chunk.subarray(from, from + into.byteLength));
    return;
  }
  const part = chunk.slice(from, from + into.byteLength);
  let reader: ReadableStreamBYOBReader;
  try {
    reader = part.stream().getReader({ mode: 'byob' });
  } catch {
    into.set(new Uint8Array(await part.arrayBuffer())); // a browser without byte streams from Blobs
    return;
  }
  // A BYOB read transfers the buffer it is given and hands it back in the result.
  let buffer = pieces.pop() ?? new ArrayBuffer(PIECE);
  try {
    for (let at = 0; at < into.byteLength; ) {
      const { value, done } = await reader.read(new Uint8Array(buffer, 0, Math.min(PIECE, into.byteLength - at)));
      if (!value) throw damaged();
      buffer = value.buffer as ArrayBuffer;
      into.set(value, at);
      at += value.byteLength;
      if (done && at < into.byteLength) throw damaged();
    }
  } finally {
    reader.releaseLock();
    if (buffer.byteLength === PIECE) pieces.push(buffer); // not one left detached by a failed read
  }
}
