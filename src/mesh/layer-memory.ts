// How much memory each part of a model needs, from the GGUF tensor directory: every block's
// tensors (`blk.N.*`), what only the head needs (token_embd), what only the tail needs
// (output_norm and output, or token_embd again when the output is tied to it), and what every
// stage needs (anything else, such as rope_freqs). The planner places layers by these numbers.
// They are the same on every backend: a WebGPU stage uploads each tensor's GGUF bytes as they are
// and drops the host copy, so a peer's budget covers its GPU buffers as it covers WASM memory; the
// KV cache is the planner's perLayerExtraBytes (f32, or f16 on a shader-f16 GPU: half of it).
import type { GgufHeader } from '../gguf/reader.ts';

export interface ModelMemory {
  readonly layerCount: number;
  /** Bytes of blk.N.* for each N. */
  readonly layerBytes: readonly number[];
  /** Of layerBytes, the bytes in expert tensors (*_exps), which could be sharded across peers. */
  readonly layerExpertBytes: readonly number[];
  readonly headBytes: number;
  readonly tailBytes: number;
  /** Needed by every stage. */
  readonly sharedBytes: number;
}

const BLOCK = /^blk\.(\d+)\./;

export function modelMemory(header: Pick<GgufHeader, 'tensors' | 'metadata'>): ModelMemory {
  const arch = header.metadata.get('general.architecture');
  const declared = typeof arch === 'string' ? header.metadata.get(`${arch}.block_count`) : undefined;
  let layerCount = typeof declared === 'number' || typeof declared === 'bigint' ? Number(declared) : 0;
  for (const t of header.tensors) {
    const m = BLOCK.exec(t.name);
    if (m) layerCount = Math.max(layerCount, Number(m[1]) + 1);
  }
  const layerBytes = new Array<number>(layerCount).fill(0);
  const layerExpertBytes = new Array<number>(layerCount).fill(0);
  let embd = 0;
  let output = 0;
  let outputNorm = 0;
  let hasOutput = false;
  let shared = 0;
  for (const t of header.tensors) {
    const m = BLOCK.exec(t.name);
    if (m) {
      layerBytes[Number(m[1])] += t.byteSize;
      if (/_exps\.weight$/.test(t.name)) layerExpertBytes[Number(m[1])] += t.byteSize;
    } else if (t.name === 'token_embd.weight') {
      embd += t.byteSize;
    } else if (t.name === 'output.weight') {
      output += t.byteSize;
      hasOutput = true;
    } else if (t.name.startsWith('output_norm.')) {
      outputNorm += t.byteSize;
    } else {
      shared += t.byteSize;
    }
  }
  return {
    layerCount,
    layerBytes,
    layerExpertBytes,
    headBytes: embd,
    // Tied embeddings: the tail multiplies by token_embd, so it holds a copy too.
    tailBytes: outputNorm + (hasOutput ? output : embd),
    sharedBytes: shared,
  };
}

/** Bytes a peer needs to run layers start…end-1 (plus head or tail parts), with `perLayerExtraBytes` for KV cache. */
export function stageBytes(m: ModelMemory, start: number, end: number, head: boolean, tail: boolean, perLayerExtraBytes = 0): number {
  let bytes = m.sharedBytes + (head ? m.headBytes : 0) + (tail ? m.tailBytes : 0);
  for (let i = start; i < end; i++) bytes += m.layerBytes[i] + perLayerExtraBytes;
  return bytes;
}
