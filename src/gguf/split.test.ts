import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memorySource, pickedFilesSource, urlSource } from './byte-source.ts';
import { GgmlType } from './ggml-types.ts';
import { readGgufHeader, type ByteSource } from './reader.ts';
import { openGguf, openGgufShards, parseSplitName, splitFileName, type LocatedSource } from './split.ts';
import { splitGgufInput } from './split-writer.ts';
import { encodeGguf, gguf, type GgufWriteInput } from './writer.ts';

function model(nTensors = 7): GgufWriteInput {
  return {
    metadata: [
      ['general.architecture', gguf.string('llama')],
      ['general.name', gguf.string('split test')],
    ],
    tensors: Array.from({ length: nTensors }, (_, i) => ({
      name: `t${i}`,
      shape: [8 * (i + 1)],
      type: GgmlType.F32,
      data: new Uint8Array(32 * (i + 1)).map((_, k) => (i * 31 + k) & 255),
    })),
  };
}

/** A directory of in-memory files; the source of `name` finds its siblings there. */
function directory(files: Map<string, Uint8Array>, name: string): LocatedSource {
  const bytes = files.get(name);
  if (!bytes) throw new Error(`ENOENT ${name}`);
  return { ...memorySource(bytes), fileName: name, openSibling: async (n) => directory(files, n) };
}

function shardFiles(input: GgufWriteInput, count: number, prefix = 'm'): Map<string, Uint8Array> {
  return new Map(splitGgufInput(input, count, prefix).map((s) => [s.fileName, encodeGguf(s.input)]));
}

async function readAll(src: ByteSource, offset: number, length: number): Promise<Uint8Array> {
  return src.read(offset, length);
}

describe('split file names', () => {
  it('follow llama_split_path and parse back', () => {
    expect(splitFileName('dir/model', 1, 3)).toBe('dir/model-00002-of-00003.gguf');
    expect(parseSplitName('model-q4-00002-of-00003.gguf')).toEqual({ prefix: 'model-q4', index: 1, count: 3 });
    expect(parseSplitName('model.gguf')).toBeUndefined();
  });
});

describe('split GGUF writer', () => {
  it('lays out shards as gguf-split does: metadata in the first only, split keys typed u16/u16/i32', async () => {
    const plans = splitGgufInput(model(7), 3);
    expect(plans.map((p) => p.input.tensors.length)).toEqual([2, 2, 3]);
    const headers = await Promise.all(plans.map((p) => readGgufHeader(memorySource(encodeGguf(p.input)))));
    expect(headers[0].metadata.get('general.name')).toBe('split test');
    expect([...headers[1].metadata.keys()]).toEqual(['split.no', 'split.count', 'split.tensors.count']);
    expect(headers.map((h) => h.metadata.get('split.no'))).toEqual([0, 1, 2]);
    const types = plans[1].input.metadata.map(([, v]) => v.kind === 'scalar' && v.type);
    expect(types).toEqual(['u16', 'u16', 'i32']);
  });
});

describe('openGguf', () => {
  const whole = model(7);
  const single = encodeGguf(whole);
  const files = shardFiles(whole, 3);

  it('merges the shards into one directory whose bytes are the unsplit file’s tensors', async () => {
    for (const entry of ['m-00001-of-00003.gguf', 'm-00003-of-00003.gguf']) {
      // the first shard, or any other
      const opened = await openGguf(directory(files, entry));
      expect(opened.shards).toHaveLength(3);
      expect(opened.header.metadata.get('general.name')).toBe('split test');
      expect(opened.header.tensors.map((t) => t.name)).toEqual(whole.tensors.map((t) => t.name));
      expect(opened.header.tensors.map((t) => t.shard)).toEqual([0, 0, 1, 1, 2, 2, 2]);
      const ref = await readGgufHeader(memorySource(single));
      for (const [i, t] of opened.header.tensors.entries()) {
        const r = ref.tensors[i];
        expect(t.byteSize).toBe(r.byteSize);
        expect(await readAll(opened.source, t.fileOffset, t.byteSize)).toEqual(single.subarray(r.fileOffset, r.fileOffset + r.byteSize));
        // shardOffset points into the shard's own file
        const shard = files.get(splitFileName('m', t.shard, 3))!;
        expect(shard.subarray(t.shardOffset, t.shardOffset + t.byteSize)).toEqual(whole.tensors[i].data);
      }
    }
  });

  it('reads across a shard boundary from both shards', async () => {
    const opened = await openGguf(directory(files, 'm-00001-of-00003.gguf'));
    const b = opened.shards[1].base;
    const bytes = await opened.source.read(b - 4, 8);
    expect(bytes).toEqual(new Uint8Array([...files.get('m-00001-of-00003.gguf')!.subarray(-4), ...files.get('m-00002-of-00003.gguf')!.subarray(0, 4)]));
  });

  it('opens an unsplit file as it is', async () => {
    const opened = await openGguf(memorySource(single));
    expect(opened.shards).toHaveLength(1);
    expect(opened.header.tensors).toHaveLength(7);
  });

  it('accepts all shards given explicitly, in any order', async () => {
    const shuffled = [...files.values()].reverse().map((b) => memorySource(b));
    const opened = await openGgufShards(shuffled);
    expect(opened.header.tensors.map((t) => t.name)).toEqual(whole.tensors.map((t) => t.name));
    await expect(openGgufShards(shuffled.slice(0, 2))).rejects.toMatchObject({ code: 'gguf_split_missing' });
  });

  it('opens shards picked together as Files, whichever order they come in', async () => {
    const picked = [...files].reverse().map(([name, bytes]) => new File([new Uint8Array(bytes)], name));
    const opened = await openGguf(pickedFilesSource(picked));
    expect(opened.header.tensors.map((t) => t.shard)).toEqual([0, 0, 1, 1, 2, 2, 2]);
    await expect(openGguf(pickedFilesSource(picked.slice(1)))).rejects.toMatchObject({ code: 'gguf_split_missing' });
  });

  it('says which shard is missing', async () => {
    const partial = new Map(files);
    partial.delete('m-00002-of-00003.gguf');
    await expect(openGguf(directory(partial, 'm-00001-of-00003.gguf'))).rejects.toMatchObject({
      code: 'gguf_split_missing',
      message: expect.stringContaining('shard 2 of 3 (m-00002-of-00003.gguf)'),
    });
  });

  it('refuses a split file whose siblings cannot be located', async () => {
    await expect(openGguf(memorySource(files.get('m-00001-of-00003.gguf')!))).rejects.toMatchObject({ code: 'gguf_split_missing' });
  });

  it('refuses mismatched counts, a wrong shard number, a wrong tensor count and duplicate tensors', async () => {
    const bad = async (edit: (plans: ReturnType<typeof splitGgufInput>) => void, detail: string) => {
      const plans = splitGgufInput(whole, 3, 'm');
      edit(plans);
      const m = new Map(plans.map((p) => [p.fileName, encodeGguf(p.input)]));
      await expect(openGguf(directory(m, 'm-00001-of-00003.gguf'))).rejects.toMatchObject({
        code: 'gguf_split_mismatch',
        message: expect.stringContaining(detail),
      });
    };
    const setKey = (p: { input: GgufWriteInput }, key: string, v: ReturnType<typeof gguf.u16>) => {
      (p as { input: GgufWriteInput }).input = { ...p.input, metadata: p.input.metadata.map(([k, old]) => [k, k === key ? v : old] as const) };
    };
    await bad((p) => setKey(p[2], 'split.count', gguf.u16(4)), 'split.count 4');
    await bad((p) => setKey(p[1], 'split.no', gguf.u16(2)), 'split.no 2, expected 1');
    await bad((p) => setKey(p[1], 'split.tensors.count', gguf.i32(9)), 'split.tensors.count 9');
    await bad((p) => {
      (p[2] as { input: GgufWriteInput }).input = { ...p[2].input, tensors: [...p[2].input.tensors.slice(1), p[0].input.tensors[0]] };
    }, 'tensor t0 is in shard 1 and again in shard 3');
    await bad((p) => {
      (p[2] as { input: GgufWriteInput }).input = { ...p[2].input, tensors: p[2].input.tensors.slice(1) };
    }, 'hold 6 tensors but split.tensors.count is 7');
    // A file named as one of 4 whose header says 3.
    const renamed = new Map([...files].map(([k, v]) => [k.replace('of-00003', 'of-00004'), v]));
    await expect(openGguf(directory(renamed, 'm-00001-of-00004.gguf'))).rejects.toMatchObject({ code: 'gguf_split_mismatch' });
  });
});

describe('split GGUF over HTTP', () => {
  let server: Server;
  let base = '';
  const files = shardFiles(model(7), 3, 'remote');
  const requests: string[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      const name = decodeURIComponent(new URL(req.url!, 'http://x').pathname.slice(1));
      requests.push(`${req.method} ${name}${req.headers.range ? ` ${req.headers.range}` : ''}`);
      const body = files.get(name);
      if (!body) {
        res.writeHead(404).end();
        return;
      }
      if (req.method === 'HEAD') {
        res.writeHead(200, { 'content-length': body.byteLength }).end();
        return;
      }
      const m = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '');
      if (!m) {
        res.writeHead(200, { 'content-length': body.byteLength }).end(body);
        return;
      }
      const a = Number(m[1]),
        b = Math.min(Number(m[2]), body.byteLength - 1);
      res.writeHead(206, { 'content-range': `bytes ${a}-${b}/${body.byteLength}` }).end(body.subarray(a, b + 1));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('finds the sibling URLs (keeping the query string) and reads tensors with Range requests', async () => {
    const opened = await openGguf(await urlSource(`${base}/remote-00001-of-00003.gguf?download=1`));
    expect(opened.header.tensors).toHaveLength(7);
    const t = opened.header.tensors[6];
    requests.length = 0;
    const bytes = await opened.source.read(t.fileOffset, t.byteSize);
    expect(bytes).toEqual(model(7).tensors[6].data);
    expect(requests).toEqual([`GET remote-00003-of-00003.gguf bytes=${t.shardOffset}-${t.shardOffset + t.byteSize - 1}`]);
  });

  it('reports a missing shard URL', async () => {
    files.delete('remote-00003-of-00003.gguf');
    await expect(openGguf(await urlSource(`${base}/remote-00001-of-00003.gguf`))).rejects.toMatchObject({
      code: 'gguf_split_missing',
      message: expect.stringContaining('shard 3 of 3'),
    });
  });
});
