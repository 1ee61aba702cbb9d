// The weight store: a tied model's embedding, asked for by the head and by the output, is read once
// (per weight home); weights go to a backend's home a chunk at a time; a truncated file fails there
// with the engine's own error.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../../tools/models/registry.ts';
import { memorySource } from '../gguf/byte-source.ts';
import { createWasmKernels, type WasmKernels } from '../kernels/wasm/index.ts';
import { fileSource } from './file-source.ts';
import { openModel } from './model.ts';
import { loadHeadWeights, loadLayerWeights, loadTailWeights } from './weights.ts';

let wasm: WasmKernels;
let bytes: Uint8Array;
beforeAll(async () => {
  wasm = await createWasmKernels();
  bytes = new Uint8Array(readFileSync(await ensureModel('tiny-qwen2-f16'))); // tied output embedding
});
afterAll(() => wasm.dispose());

describe('WeightStore', () => {
  it('reads a tied embedding once for the head and the output, in JavaScript and in a weight home', async () => {
    const model = await openModel(memorySource(bytes));
    const c = model.config;
    expect(model.store.has('output.weight')).toBe(false);
    const home = wasm.weightHome!;
    const used = wasm.residentBytes;
    const head = await loadHeadWeights(model.store, c, home);
    const tail = await loadTailWeights(model.store, c, home);
    // Identity as booleans: a failing toBe would print a diff of 19 MB.
    expect(tail.output === head.tokenEmbd).toBe(true);
    expect(wasm.residentBytes - used).toBeGreaterThanOrEqual(head.tokenEmbd.data.byteLength);
    expect(wasm.residentBytes - used).toBeLessThan(2 * head.tokenEmbd.data.byteLength);
    const jsHead = await loadHeadWeights(model.store, c);
    expect((await loadTailWeights(model.store, c)).output === jsHead.tokenEmbd).toBe(true);
    expect(jsHead.tokenEmbd === head.tokenEmbd).toBe(false);
    expect(Buffer.compare(head.tokenEmbd.data, jsHead.tokenEmbd.data)).toBe(0);
  });

  it('fails with engine_bad_model when a read into the home comes back short (a file cut after it was opened)', async () => {
    const model = await openModel(memorySource(bytes));
    const wq = model.header.tensors.find((t) => t.name === 'blk.1.attn_q.weight')!;
    const cut = memorySource(bytes.subarray(0, wq.fileOffset + 10));
    const lying = await openModel({
      size: bytes.byteLength,
      read: (offset, length) => (offset < 1 << 20 ? memorySource(bytes).read(offset, length) : cut.read(offset, length)),
    });
    await expect(loadLayerWeights(lying.store, lying.config, 1, wasm.weightHome)).rejects.toMatchObject({ code: 'engine_bad_model' });
  });

  it('reads several weights into a home at once, each with its own bytes (two stages opened together)', async () => {
    const model = await openModel(await fileSource(await ensureModel('tiny-qwen2-f16'))); // reads into a buffer of the store's
    const c = model.config;
    const other = await createWasmKernels();
    try {
      const [a, b] = await Promise.all([loadLayerWeights(model.store, c, 0, other.weightHome), loadLayerWeights(model.store, c, 1, other.weightHome)]);
      const [ja, jb] = [await loadLayerWeights(model.store, c, 0), await loadLayerWeights(model.store, c, 1)];
      for (const [home, js] of [
        [a, ja],
        [b, jb],
      ] as const) {
        for (const k of ['wq', 'wk', 'wv', 'wo'] as const) expect(Buffer.compare(home[k].data, js[k].data), `layer ${home.index} ${k}`).toBe(0);
      }
    } finally {
      other.dispose();
    }
  });
});
