import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { GgufError } from '../protocol/errors.ts';
import { memorySource, urlSource } from './byte-source.ts';
import { GgmlType } from './ggml-types.ts';
import { parseGgufHeader, readGgufHeader } from './reader.ts';
import { encodeGguf, gguf } from './writer.ts';

function sampleFile(): Uint8Array {
  return encodeGguf({
    metadata: [
      ['general.architecture', gguf.string('llama')],
      ['llama.block_count', gguf.u32(2)],
      ['tokenizer.ggml.tokens', gguf.array('string', ['<unk>', 'a', 'b'])],
      ['tokenizer.ggml.scores', gguf.array('f32', [0, -1.5, -2])],
    ],
    tensors: [
      { name: 'a', shape: [8, 2], type: GgmlType.F32, data: new Uint8Array(64).fill(1) },
      { name: 'b', shape: [32], type: GgmlType.Q8_0, data: new Uint8Array(34).fill(2) },
    ],
  });
}

/** Offset of the tensor directory entry fields of the first tensor ("a"): found by its name. */
function tensorEntryOffset(bytes: Uint8Array, name: string): number {
  const needle = new TextEncoder().encode(name);
  for (let i = bytes.length - 1; i >= 8; i--) {
    const len = new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(i - 8, true);
    if (len === BigInt(needle.length) && needle.every((b, k) => bytes[i + k] === b)) return i + needle.length;
  }
  throw new Error(`no tensor ${name}`);
}

function expectCode(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(GgufError);
    expect((e as GgufError).code).toBe(code);
    expect((e as GgufError).message.length).toBeGreaterThan(20);
    return;
  }
  throw new Error(`expected ${code}`);
}

describe('parseGgufHeader', () => {
  test('reads metadata and the tensor directory', () => {
    const h = parseGgufHeader(sampleFile());
    expect(h.version).toBe(3);
    expect(h.metadata.get('general.architecture')).toBe('llama');
    expect(h.metadata.get('llama.block_count')).toBe(2);
    expect(h.metadata.get('tokenizer.ggml.tokens')).toEqual(['<unk>', 'a', 'b']);
    expect(Array.from(h.metadata.get('tokenizer.ggml.scores') as Float32Array)).toEqual([0, -1.5, -2]);
    expect(h.tensors.map((t) => [t.name, t.shape, t.byteSize])).toEqual([
      ['a', [8, 2], 64],
      ['b', [32], 34],
    ]);
    expect(h.dataOffset % 32).toBe(0);
    expect(h.tensors[1].fileOffset % 32).toBe(0);
  });

  test('wrong magic and version are named', () => {
    const bad = sampleFile();
    bad[0] = 0x47 ^ 0xff;
    expectCode(() => parseGgufHeader(bad), 'gguf_bad_magic');
    const v = sampleFile();
    v[4] = 9;
    expectCode(() => parseGgufHeader(v), 'gguf_bad_version');
  });

  test('every truncation is a clear error, never a hang or a crash', () => {
    const file = sampleFile();
    for (let cut = 0; cut < file.length; cut += 7) {
      expectCode(() => parseGgufHeader(file.subarray(0, cut)), 'gguf_truncated');
    }
  });

  test('unknown tensor types, absurd dimensions and lying offsets are refused', () => {
    const file = sampleFile();
    const at = tensorEntryOffset(file, 'a');
    const view = new DataView(file.buffer);
    const withPatch = (patch: (v: DataView) => void) => {
      const copy = file.slice();
      patch(new DataView(copy.buffer));
      return copy;
    };
    // layout after the name: n_dims u32, dims u64 x2, type u32, offset u64
    expect(view.getUint32(at, true)).toBe(2);
    expectCode(() => parseGgufHeader(withPatch((v) => v.setUint32(at + 20, 77, true))), 'gguf_unsupported_type');
    expectCode(() => parseGgufHeader(withPatch((v) => v.setUint32(at, 9, true))), 'gguf_corrupt');
    expectCode(() => parseGgufHeader(withPatch((v) => v.setBigUint64(at + 4, 1n << 40n, true))), 'gguf_corrupt');
    expectCode(() => parseGgufHeader(withPatch((v) => v.setBigUint64(at + 4, 0n, true))), 'gguf_corrupt');
    expectCode(() => parseGgufHeader(withPatch((v) => v.setBigUint64(at + 24, 1n << 30n, true))), 'gguf_truncated');
    expectCode(() => parseGgufHeader(withPatch((v) => v.setBigUint64(at + 24, 4n, true))), 'gguf_corrupt');
    expectCode(() => parseGgufHeader(withPatch((v) => v.setBigUint64(at + 24, 32n, true))), 'gguf_corrupt'); // overlaps b
  });

  test('lying counts fail fast instead of allocating', () => {
    const file = sampleFile();
    const huge = file.slice();
    new DataView(huge.buffer).setBigUint64(16, 1n << 40n, true); // metadata count
    expectCode(() => parseGgufHeader(huge), 'gguf_corrupt');
  });
});

describe('readGgufHeader over sources', () => {
  let server: Server;
  let base: string;
  let rangeRequests = 0;
  const file = sampleFile();

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/missing.gguf') return res.writeHead(404).end();
      const body = Buffer.from(file);
      const range = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '');
      if (req.method === 'HEAD') return res.writeHead(200, { 'content-length': body.length }).end();
      if (range && req.url !== '/norange.gguf') {
        rangeRequests++;
        const [a, b] = [Number(range[1]), Math.min(Number(range[2]), body.length - 1)];
        return res.writeHead(206, { 'content-range': `bytes ${a}-${b}/${body.length}` }).end(body.subarray(a, b + 1));
      }
      res.writeHead(200).end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  test('grows its read until the header fits', async () => {
    const reads: number[] = [];
    const src = memorySource(file);
    const h = await readGgufHeader(
      {
        size: src.size,
        read: (o, n) => {
          reads.push(n);
          return src.read(o, n);
        },
      },
      16,
    );
    expect(h.tensors).toHaveLength(2);
    expect(reads.length).toBeGreaterThan(1);
  });

  test('reads a URL with Range requests', async () => {
    const h = await readGgufHeader(await urlSource(`${base}/model.gguf`));
    expect(h.metadata.get('general.architecture')).toBe('llama');
    expect(rangeRequests).toBeGreaterThan(0);
  });

  test('a missing URL is a clear fetch error', async () => {
    await expect(urlSource(`${base}/missing.gguf`)).rejects.toMatchObject({ code: 'gguf_fetch_failed' });
  });

  test('a server that ignores Range still serves the first read, and later reads say why they fail', async () => {
    const src = await urlSource(`${base}/norange.gguf`);
    expect((await src.read(0, 8)).length).toBe(8);
    await expect(src.read(8, 8)).rejects.toMatchObject({ code: 'gguf_fetch_failed' });
  });
});
