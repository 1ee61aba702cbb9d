// The worker's progress-counting source keeps its inner source's readInto, so the loader reads weights
// into one reused buffer rather than a fresh array per chunk, and counts those bytes as it does reads.
import { describe, expect, it } from 'vitest';
import type { ByteSource } from '../../src/gguf/reader.ts';
import { countingSource } from './progress-source.ts';

const bytes = new Uint8Array(1000).map((_, i) => i & 255);

function innerSource(withReadInto: boolean): ByteSource & { reads: number } {
  const s = {
    size: bytes.byteLength,
    reads: 0,
    async read(offset: number, length: number) {
      s.reads++;
      return bytes.slice(offset, Math.min(offset + length, bytes.byteLength));
    },
  };
  if (!withReadInto) return s;
  return Object.assign(s, {
    async readInto(offset: number, into: Uint8Array) {
      const part = bytes.subarray(offset, Math.min(offset + into.byteLength, bytes.byteLength));
      into.set(part);
      return part.byteLength;
    },
  });
}

describe('countingSource', () => {
  it('passes readInto on where the inner source has it, counting its bytes', async () => {
    const events: number[] = [];
    const inner = innerSource(true);
    const source = countingSource(inner, (p) => events.push(p.bytesLoaded), 0);
    const into = new Uint8Array(300);
    expect(await source.readInto!(900, into)).toBe(100);
    expect(into.subarray(0, 100)).toEqual(bytes.subarray(900));
    expect(await source.readInto!(0, into)).toBe(300);
    expect((await source.read(300, 50)).byteLength).toBe(50);
    expect(inner.reads).toBe(1); // the readInto calls made no read
    expect(source.bytesLoaded).toBe(450);
    expect(events.at(-1)).toBe(450);
  });

  it('has no readInto where the inner source has none', () => {
    expect(countingSource(innerSource(false), () => {}).readInto).toBeUndefined();
  });
});
