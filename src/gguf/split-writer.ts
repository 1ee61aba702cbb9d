// Splits a GGUF into shards the way llama.cpp's gguf-split does (by tensor count): every shard is a
// whole GGUF; the first carries all model metadata, then split.no (u16), split.count (u16) and
// split.tensors.count (i32); the others carry only those three keys. Used to make split test models.
import { GgufError } from '../protocol/errors.ts';
import { SPLIT_COUNT, SPLIT_NO, SPLIT_TENSORS_COUNT, splitFileName } from './split.ts';
import { gguf, type GgufMetaValue, type GgufWriteInput } from './writer.ts';

export interface SplitPlan {
  /** Shard file names, `<prefix>-0000i-of-0000n.gguf`. */
  readonly fileName: string;
  readonly input: GgufWriteInput;
}

/** Splits `input` into `count` shards of about equal tensor counts (each shard gets at least one tensor). */
export function splitGgufInput(input: GgufWriteInput, count: number, prefix = 'model'): SplitPlan[] {
  const n = input.tensors.length;
  if (!Number.isInteger(count) || count < 1 || count > n || count > 0xffff) {
    throw new GgufError('gguf_corrupt', `cannot split ${n} tensors into ${count} shards`);
  }
  const splitKeys = (no: number): [string, GgufMetaValue][] => [
    [SPLIT_NO, gguf.u16(no)],
    [SPLIT_COUNT, gguf.u16(count)],
    [SPLIT_TENSORS_COUNT, gguf.i32(n)],
  ];
  // gguf_set_kv copies the source's keys, then the split keys are set: replaced in place if present, else appended.
  const model = input.metadata.filter(([k]) => k !== SPLIT_NO && k !== SPLIT_COUNT && k !== SPLIT_TENSORS_COUNT);
  return Array.from({ length: count }, (_, i) => {
    const tensors = input.tensors.slice(Math.floor((i * n) / count), Math.floor(((i + 1) * n) / count));
    return {
      fileName: splitFileName(prefix, i, count),
      input: { metadata: i === 0 ? [...model, ...splitKeys(0)] : splitKeys(i), tensors, alignment: input.alignment },
    };
  });
}
