// Split GGUFs as llama.cpp's gguf-split writes them (`<prefix>-00001-of-00003.gguf`, ...): every shard
// is a whole GGUF with its own tensor directory, the first also carries the model metadata. Opened
// here as one model: a merged tensor directory over one virtual byte space, so the loader above
// reads a split model exactly as a single file (and a URL model still fetches only the ranges it needs).
import { GgufError } from '../protocol/errors.ts';
import { readGgufHeader, type ByteSource, type GgufHeader, type GgufTensorInfo } from './reader.ts';

export const SPLIT_NO = 'split.no';
export const SPLIT_COUNT = 'split.count';
export const SPLIT_TENSORS_COUNT = 'split.tensors.count';

/** A ByteSource that knows where it lives (a path, a URL, a picked file) and can open a file beside it. */
export interface SiblingOpener {
  /** The file name of this source (`model-00001-of-00003.gguf`), used to find its shards. */
  readonly fileName?: string;
  /** Opens the file named `fileName` in the same directory (or URL path); throws when it is absent. */
  openSibling?(fileName: string): Promise<ByteSource>;
}

export type LocatedSource = ByteSource & SiblingOpener;

/** One entry of a split model's directory: which shard holds the tensor, and where inside it. */
export interface ShardedTensorInfo extends GgufTensorInfo {
  readonly shard: number;
  /** Offset of the tensor inside its own shard file (fileOffset is in the merged byte space). */
  readonly shardOffset: number;
}

export interface Shard {
  readonly fileName: string | undefined;
  readonly source: ByteSource;
  readonly header: GgufHeader;
  /** Where this shard starts in the merged byte space. */
  readonly base: number;
}

export interface OpenedGguf {
  /** Shard 0's metadata with every shard's tensors; offsets are in `source`'s byte space. */
  readonly header: Omit<GgufHeader, 'tensors'> & { readonly tensors: ShardedTensorInfo[] };
  /** The model's bytes: the file itself, or the shards laid end to end. */
  readonly source: ByteSource;
  readonly shards: readonly Shard[];
}

const SPLIT_NAME = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/;

/** `model-00002-of-00003.gguf` → { prefix: 'model', index: 1, count: 3 } (index from 0), or undefined. */
export function parseSplitName(fileName: string): { prefix: string; index: number; count: number } | undefined {
  const m = SPLIT_NAME.exec(fileName);
  if (!m) return undefined;
  return { prefix: m[1], index: Number(m[2]) - 1, count: Number(m[3]) };
}

/** The file name of shard `index` (from 0) of `count`, as llama.cpp's llama_split_path makes it. */
export function splitFileName(prefix: string, index: number, count: number): string {
  const pad = (n: number) => String(n).padStart(5, '0');
  return `${prefix}-${pad(index + 1)}-of-${pad(count)}.gguf`;
}

function mismatch(detail: string): GgufError {
  return new GgufError(
    'gguf_split_mismatch',
    `split GGUF is inconsistent: ${detail}; download every shard of the same model again (llama.cpp's gguf-split writes them together)`,
  );
}

function splitInfo(h: GgufHeader): { no: number; count: number; tensors: number | undefined } {
  const int = (key: string) => {
    const v = h.metadata.get(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw mismatch(`${key} is ${String(v)}`);
    return v;
  };
  const count = int(SPLIT_COUNT) ?? 0;
  return { no: int(SPLIT_NO) ?? 0, count, tensors: int(SPLIT_TENSORS_COUNT) };
}

/**
 * Opens a GGUF that may be split. Given any shard, finds the others beside it by the naming pattern
 * (through `source.openSibling`), checks that they belong together, and merges their directories.
 * A file that is not split is returned as it is.
 */
export async function openGguf(source: LocatedSource): Promise<OpenedGguf> {
  let header = await readGgufHeader(source);
  let info = splitInfo(header);
  if (info.count <= 1) return single(source, header);
  let first: LocatedSource = source;
  const named = source.fileName === undefined ? undefined : parseSplitName(source.fileName);
  if (named && named.count !== info.count) {
    throw mismatch(`${source.fileName} is named as one of ${named.count} shards but its split.count is ${info.count}`);
  }
  if (info.no !== 0) {
    // Any shard will do as the entry point: go to the first, which holds the model metadata.
    if (!named || !source.openSibling) throw noSiblings(info.count);
    first = (await openShard(source, splitFileName(named.prefix, 0, info.count), 0, info.count)) as LocatedSource;
    header = await readGgufHeader(first);
    info = splitInfo(header);
    if (info.no !== 0) throw mismatch(`${splitFileName(named.prefix, 0, info.count)} says it is shard ${info.no + 1}`);
  }
  const shardSources: { fileName: string | undefined; source: ByteSource; header: GgufHeader }[] = [
    { fileName: named ? splitFileName(named.prefix, 0, info.count) : source.fileName, source: first, header },
  ];
  if (!named || !source.openSibling) throw noSiblings(info.count, source.fileName);
  const rest = await Promise.all(
    Array.from({ length: info.count - 1 }, async (_, k) => {
      const index = k + 1;
      const fileName = splitFileName(named.prefix, index, info.count);
      const s = await openShard(source, fileName, index, info.count);
      return { fileName, source: s, header: await readGgufHeader(s) };
    }),
  );
  shardSources.push(...rest);
  return merge(shardSources, info.count, info.tensors);
}

/** Opens the shards given explicitly (e.g. files picked together), in any order. */
export async function openGgufShards(sources: readonly ByteSource[]): Promise<OpenedGguf> {
  const opened = await Promise.all(sources.map(async (s) => ({ fileName: (s as LocatedSource).fileName, source: s, header: await readGgufHeader(s) })));
  if (opened.length === 1 && splitInfo(opened[0].header).count <= 1) return single(opened[0].source, opened[0].header);
  opened.sort((a, b) => splitInfo(a.header).no - splitInfo(b.header).no);
  const info = splitInfo(opened[0].header);
  if (info.no !== 0)
    throw new GgufError('gguf_split_missing', 'the first shard (split.no 0, the one with the model metadata) is not among the files given; add it');
  if (info.count !== opened.length) {
    throw new GgufError('gguf_split_missing', `the model is split into ${info.count} shards but ${opened.length} were given; pass all of them`);
  }
  return merge(opened, info.count, info.tensors);
}

function noSiblings(count: number, fileName?: string): GgufError {
  return new GgufError(
    'gguf_split_missing',
    `${fileName ?? 'this model'} is one of ${count} shards of a split GGUF, and the other shards cannot be located from it: pass its path or URL (named like model-00001-of-${String(count).padStart(5, '0')}.gguf), or all shards together`,
  );
}

async function openShard(from: LocatedSource, fileName: string, index: number, count: number): Promise<ByteSource> {
  try {
    return await from.openSibling!(fileName);
  } catch (cause) {
    throw new GgufError(
      'gguf_split_missing',
      `shard ${index + 1} of ${count} (${fileName}) could not be opened: ${(cause as Error).message ?? cause}; put every shard of the split model beside the first`,
      { cause },
    );
  }
}

function single(source: ByteSource, header: GgufHeader): OpenedGguf {
  const tensors = header.tensors.map((t) => ({ ...t, shard: 0, shardOffset: t.fileOffset }));
  return { header: { ...header, tensors }, source, shards: [{ fileName: (source as LocatedSource).fileName, source, header, base: 0 }] };
}

/** Where a shard's bytes end: its size when known, otherwise the end of its last tensor. */
function shardLength(source: ByteSource, h: GgufHeader): number {
  if (source.size !== undefined) return source.size;
  return h.tensors.reduce((end, t) => Math.max(end, t.fileOffset + t.byteSize), h.dataOffset);
}

function merge(
  list: { fileName: string | undefined; source: ByteSource; header: GgufHeader }[],
  count: number,
  expectedTensors: number | undefined,
): OpenedGguf {
  const shards: Shard[] = [];
  const tensors: ShardedTensorInfo[] = [];
  const seen = new Map<string, number>();
  let base = 0;
  list.forEach((s, index) => {
    const info = splitInfo(s.header);
    const label = s.fileName ?? `shard ${index + 1}`;
    if (info.count !== count) throw mismatch(`${label} has split.count ${info.count}, the first shard ${count}`);
    if (info.no !== index) throw mismatch(`${label} has split.no ${info.no}, expected ${index}`);
    if (info.tensors !== undefined && expectedTensors !== undefined && info.tensors !== expectedTensors) {
      throw mismatch(`${label} has split.tensors.count ${info.tensors}, the first shard ${expectedTensors}`);
    }
    for (const t of s.header.tensors) {
      const other = seen.get(t.name);
      if (other !== undefined) throw mismatch(`tensor ${t.name} is in shard ${other + 1} and again in shard ${index + 1}`);
      seen.set(t.name, index);
      tensors.push({ ...t, fileOffset: base + t.fileOffset, shard: index, shardOffset: t.fileOffset });
    }
    shards.push({ fileName: s.fileName, source: s.source, header: s.header, base });
    base += shardLength(s.source, s.header);
  });
  if (expectedTensors !== undefined && tensors.length !== expectedTensors) {
    throw mismatch(`the shards hold ${tensors.length} tensors but split.tensors.count is ${expectedTensors}`);
  }
  const first = list[0].header;
  return { header: { ...first, tensors }, source: concatenated(shards, base), shards };
}

/** The shards end to end as one ByteSource; a read that spans a boundary is served from both. */
function concatenated(shards: readonly Shard[], size: number): ByteSource {
  return {
    size,
    async read(offset, length) {
      const end = Math.min(offset + length, size);
      const parts: Uint8Array[] = [];
      for (let i = 0; i < shards.length && offset < end; i++) {
        const s = shards[i];
        const shardEnd = i + 1 < shards.length ? shards[i + 1].base : size;
        if (offset >= shardEnd) continue;
        const n = Math.min(end, shardEnd) - offset;
        const part = await s.source.read(offset - s.base, n);
        parts.push(part);
        if (part.byteLength < n) break; // a short shard: the caller sees a short read
        offset += n;
      }
      if (parts.length === 1) return parts[0];
      const out = new Uint8Array(parts.reduce((a, p) => a + p.byteLength, 0));
      let at = 0;
      for (const p of parts) {
        out.set(p, at);
        at += p.byteLength;
      }
      return out;
    },
  };
}
