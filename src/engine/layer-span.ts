// A model whose layer range's tensors are read in one request. A GGUF keeps each layer's tensors
// together, and the weight store would otherwise make one Range read per tensor, one after another
// (about 36 round trips for four layers, most of a mesh stage's load time). Used wherever a stage
// loads from a URL: the page's in-process stages and the inference worker's.
import type { ByteSource } from '../gguf/reader.ts';
import type { ModelFile } from './model.ts';
import { WeightStore } from './weights.ts';

/**
 * Reads outside the span, or a span with other tensors between the range's (over a quarter more
 * bytes), go to the model's source.
 */
export async function withLayersRead(file: ModelFile, first: number, end: number): Promise<ModelFile> {
  let lo = Infinity;
  let hi = 0;
  let bytes = 0;
  for (const t of file.header.tensors) {
    const m = /^blk\.(\d+)\./.exec(t.name);
    if (!m || Number(m[1]) < first || Number(m[1]) >= end) continue;
    lo = Math.min(lo, t.fileOffset);
    hi = Math.max(hi, t.fileOffset + t.byteSize);
    bytes += t.byteSize;
  }
  if (bytes === 0 || hi - lo > bytes * 1.25) return file;
  const inner = file.store.source;
  const span = await inner.read(lo, hi - lo);
  if (span.byteLength !== hi - lo) return file; // short read: the store reports the truncation itself
  const source: ByteSource = {
    size: inner.size,
    read: (offset: number, length: number) =>
      offset >= lo && offset + length <= hi ? Promise.resolve(span.subarray(offset - lo, offset - lo + length)) : inner.read(offset, length),
  };
  return { header: file.header, config: file.config, store: new WeightStore(file.header, source) };
}
