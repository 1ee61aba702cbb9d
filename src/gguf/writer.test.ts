import { describe, expect, it } from 'vitest';
import { GgmlType } from './ggml-types.ts';
import { parseGgufHeader } from './reader.ts';
import { encodeGguf, gguf, ggufChunks, type GgufWriteInput } from './writer.ts';

function bytes(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
}

const input: GgufWriteInput = {
  metadata: [
    ['general.architecture', gguf.string('llama')],
    ['u8', gguf.u8(250)],
    ['i8', gguf.i8(-5)],
    ['u16', gguf.u16(65000)],
    ['i16', gguf.i16(-30000)],
    ['u32', gguf.u32(4_000_000_000)],
    ['i32', gguf.i32(-2_000_000_000)],
    ['f32', gguf.f32(1e-5)],
    ['f64', gguf.f64(Math.PI)],
    ['u64', gguf.u64(2n ** 60n)],
    ['i64', gguf.i64(-7)],
    ['bool', gguf.bool(true)],
    ['utf8', gguf.string('ŋ → 中文 🙂')],
    ['tokens', gguf.array('string', ['<s>', '', 'héllo'])],
    ['scores', gguf.array('f32', new Float32Array([0.5, -1.25]))],
    ['types', gguf.array('i32', new Int32Array([1, -2, 3]))],
    ['flags', gguf.array('bool', [true, false])],
    ['big', gguf.array('u64', [1n, 2n ** 63n])],
    ['nested', gguf.nested([gguf.array('u8', [1, 2]), gguf.array('u8', [3])])],
  ],
  tensors: [
    { name: 'a', shape: [3], type: GgmlType.F32, data: bytes(12, 1) },
    { name: 'b', shape: [32, 2], type: GgmlType.Q8_0, data: bytes(68, 2) },
    { name: 'c', shape: [5, 1, 1], type: GgmlType.F16, data: bytes(10, 3) },
  ],
};

describe('GGUF writer', () => {
  it('round-trips every metadata type and the tensor directory through the reader', () => {
    const file = encodeGguf(input);
    const h = parseGgufHeader(file);
    expect(h.version).toBe(3);
    const m = h.metadata;
    expect(m.get('u8')).toBe(250);
    expect(m.get('i8')).toBe(-5);
    expect(m.get('u16')).toBe(65000);
    expect(m.get('i16')).toBe(-30000);
    expect(m.get('u32')).toBe(4_000_000_000);
    expect(m.get('i32')).toBe(-2_000_000_000);
    expect(m.get('f32')).toBe(Math.fround(1e-5));
    expect(m.get('f64')).toBe(Math.PI);
    expect(m.get('u64')).toBe(2n ** 60n);
    expect(m.get('i64')).toBe(-7);
    expect(m.get('bool')).toBe(true);
    expect(m.get('utf8')).toBe('ŋ → 中文 🙂');
    expect(m.get('tokens')).toEqual(['<s>', '', 'héllo']);
    expect(Array.from(m.get('scores') as Float32Array)).toEqual([0.5, -1.25]);
    expect(Array.from(m.get('types') as Int32Array)).toEqual([1, -2, 3]);
    expect(m.get('flags')).toEqual([true, false]);
    expect(Array.from(m.get('big') as BigUint64Array)).toEqual([1n, 2n ** 63n]);
    expect((m.get('nested') as Uint8Array[]).map((a) => Array.from(a))).toEqual([[1, 2], [3]]);
    expect(h.tensors.map((t) => [t.name, t.shape, t.type, t.byteSize])).toEqual([
      ['a', [3], GgmlType.F32, 12],
      ['b', [32, 2], GgmlType.Q8_0, 68],
      ['c', [5, 1, 1], GgmlType.F16, 10],
    ]);
    for (const [i, t] of h.tensors.entries()) {
      expect(t.fileOffset % 32).toBe(0);
      expect(file.subarray(t.fileOffset, t.fileOffset + t.byteSize)).toEqual(input.tensors[i].data);
    }
  });

  it('streams the same bytes it encodes', () => {
    const { totalSize, chunks } = ggufChunks(input);
    const parts = [...chunks];
    const joined = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
    let o = 0;
    for (const p of parts) {
      joined.set(p, o);
      o += p.byteLength;
    }
    expect(joined.byteLength).toBe(totalSize);
    expect(joined).toEqual(encodeGguf(input));
  });

  it('honours a larger alignment and records it', () => {
    const h = parseGgufHeader(encodeGguf({ ...input, alignment: 64 }));
    expect(h.alignment).toBe(64);
    expect(h.metadata.get('general.alignment')).toBe(64);
    for (const t of h.tensors) expect(t.fileOffset % 64).toBe(0);
  });

  it('rejects tensors whose bytes do not match their shape and type', () => {
    expect(() => encodeGguf({ metadata: [], tensors: [{ name: 'x', shape: [32], type: GgmlType.Q8_0, data: new Uint8Array(33) }] })).toThrow(/needs 34 bytes/);
    expect(() => encodeGguf({ metadata: [], tensors: [{ name: 'x', shape: [31], type: GgmlType.Q4_0, data: new Uint8Array(18) }] })).toThrow(/whole blocks/);
    expect(() =>
      encodeGguf({
        metadata: [
          ['k', gguf.u32(1)],
          ['k', gguf.u32(2)],
        ],
        tensors: [],
      }),
    ).toThrow(/repeat/);
  });
});
