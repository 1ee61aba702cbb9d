// Copying a stored chunk's bytes (weight-cache.ts keeps them as Blobs) into a reader's buffer. A Blob
// is read as a byte stream into a small buffer this module reuses, so a model load makes no garbage
// per chunk (reading it whole with arrayBuffer() would allocate every chunk once more). A loader
// reads a chunk front to back, tensor after tensor: each read goes on from where the last one on
// that Blob stopped, on the same stream (a Blob.slice per read cost Chromium ~1.5 ms each).
import { StorageError } from './errors.ts';
import type { StoredChunk } from './weight-cache.ts';

/** Bytes per stream read: the stream hands back at most this much at a time. */
const PIECE = 1 << 20;
/** Bytes a read may skip on an open stream (tensor alignment, small tensors read elsewhere) before a fresh stream is cheaper. */
const MAX_SKIP = 1 << 20;
/** Buffers free for the next read (reads under way side by side each take one). */
const pieces: ArrayBuffer[] = [];

interface Cursor {
  readonly reader: ReadableStreamBYOBReader;
  /** The Blob offset the next byte read comes from. */
  at: number;
  busy: boolean;
}

/** Open streams on each Blob, positioned where their last reads stopped (a few: a layer's tensors are read out of file order). */
const cursors = new WeakMap<Blob, Cursor[]>();
/** Streams kept open per Blob. */
const MAX_CURSORS = 4;

const damaged = () =>
  new StorageError(
    'storage_damaged',
    'a stored chunk ended before its size: the weight cache is damaged; delete the model in the Models view and download it again',
  );

export function chunkLength(chunk: StoredChunk): number {
  return chunk instanceof Blob ? chunk.size : chunk.byteLength;
}

/** Closes the streams open on a chunk a reader has moved past (each holds a pipe's worth of bytes read ahead). */
export function closeChunk(chunk: StoredChunk | undefined): void {
  if (!(chunk instanceof Blob)) return;
  const open = cursors.get(chunk);
  if (!open) return;
  for (let i = open.length - 1; i >= 0; i--) if (!open[i].busy) drop(open, i);
}

function drop(open: Cursor[], i: number): void {
  if (i < 0) return;
  void open[i].reader.cancel().catch(() => {});
  open.splice(i, 1);
}

function openAt(blob: Blob, from: number): Cursor | undefined {
  try {
    return { reader: (from === 0 ? blob : blob.slice(from)).stream().getReader({ mode: 'byob' }), at: from, busy: false };
  } catch {
    return undefined; // a browser without byte streams from Blobs
  }
}

/** Copies the chunk's bytes [from, from + into.length) into `into` (the range must lie inside the chunk). */
export async function copyChunk(chunk: StoredChunk, from: number, into: Uint8Array): Promise<void> {
  if (!(chunk instanceof Blob)) {
    into.set(chunk.subarray(from, from + into.byteLength));
    return;
  }
  const open = cursors.get(chunk) ?? [];
  let cursor = open.filter((c) => !c.busy && c.at <= from && from - c.at <= MAX_SKIP).sort((a, b) => b.at - a.at)[0];
  if (!cursor) {
    const fresh = openAt(chunk, from);
    if (!fresh) {
      into.set(new Uint8Array(await chunk.slice(from, from + into.byteLength).arrayBuffer()));
      return;
    }
    cursor = fresh;
    cursor.busy = true; // not the one dropped below
    open.push(cursor);
    if (open.length > MAX_CURSORS)
      drop(
        open,
        open.findIndex((c) => !c.busy),
      );
    cursors.set(chunk, open);
  }
  cursor.busy = true;
  // A BYOB read transfers the buffer it is given and hands it back in the result.
  let buffer = pieces.pop() ?? new ArrayBuffer(PIECE);
  try {
    const end = from + into.byteLength;
    while (cursor.at < end) {
      const skip = cursor.at < from;
      const want = Math.min(PIECE, (skip ? from : end) - cursor.at);
      const { value, done } = await cursor.reader.read(new Uint8Array(buffer, 0, want));
      if (!value) throw damaged();
      buffer = value.buffer as ArrayBuffer;
      if (!skip) into.set(value, cursor.at - from);
      cursor.at += value.byteLength;
      if (done && cursor.at < end) throw damaged();
    }
    if (cursor.at >= chunk.size) drop(open, open.indexOf(cursor)); // read to its end
  } catch (e) {
    drop(open, open.indexOf(cursor));
    throw e;
  } finally {
    cursor.busy = false;
    if (buffer.byteLength === PIECE) pieces.push(buffer); // not one left detached by a failed read
  }
}
