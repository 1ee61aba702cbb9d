// Copying stored chunks into a reader's buffer: Blobs (read as a byte stream, in pieces smaller and
// larger than the stream's, front to back, backwards, two readers at once) and Uint8Arrays (chunks
// stored before Blobs) give the same bytes.
import { describe, expect, it } from 'vitest';
import { chunkLength, copyChunk } from './chunk-bytes.ts';

const bytes = new Uint8Array(3 * (1 << 20) + 12_345).map((_, i) => (i * 7 + (i >> 11)) & 255);

describe('stored chunk bytes', () => {
  it('copies any range of a Blob or a Uint8Array chunk into the buffer given', async () => {
    for (const chunk of [new Blob([bytes]), bytes]) {
      expect(chunkLength(chunk)).toBe(bytes.byteLength);
      for (const [from, length] of [
        [0, 1],
        [5, 100_000],
        [1000, (1 << 20) + 3], // more than one stream piece
        [bytes.byteLength - 7, 7],
        [0, bytes.byteLength],
      ]) {
        const into = new Uint8Array(length + 2).fill(0xee);
        await copyChunk(chunk, from, into.subarray(1, 1 + length));
        expect(into[0]).toBe(0xee);
        expect(into[length + 1]).toBe(0xee); // nothing written outside the range
        expect(Buffer.compare(into.subarray(1, 1 + length), bytes.subarray(from, from + length))).toBe(0);
      }
    }
  });

  it('reads a Blob front to back with gaps, and side by side, on streams that give the right bytes', async () => {
    const blob = new Blob([bytes]);
    const ranges = Array.from({ length: 40 }, (_, i) => [i * 70_000 + (i % 3) * 32, 50_000 + (i % 5) * 4000] as const);
    const got = await Promise.all(
      [
        ranges.filter((_, i) => i % 2 === 0),
        ranges.filter((_, i) => i % 2 === 1),
        ranges.map((_, i) => ranges[i ^ 1]), // out of file order, as a layer's tensors are read
      ].map(async (list) => {
        for (const [from, length] of list) {
          const into = new Uint8Array(length);
          await copyChunk(blob, from, into);
          if (Buffer.compare(into, bytes.subarray(from, from + length)) !== 0) return `wrong bytes at ${from}`;
        }
        return 'ok';
      }),
    );
    expect(got).toEqual(['ok', 'ok', 'ok']);
  });

  it('refuses a Blob shorter than the range asked for (a damaged cache) with a clear error', async () => {
    await expect(copyChunk(new Blob([bytes.subarray(0, 10)]), 4, new Uint8Array(20))).rejects.toMatchObject({ code: 'storage_damaged' });
  });
});
