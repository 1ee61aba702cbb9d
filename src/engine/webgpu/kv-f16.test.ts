// The WebGPU engine with an f16 KV cache on a shader-f16 device (Dawn for Node over lavapipe, see
// kernels/wgsl/lavapipe-testing.ts): the cache is held as f16, and the logits are those of the same
// device with shader-f16 turned off (f32 buffers holding the same fp16-rounded values), bit for bit,
// and within the parity bar of llama.cpp run with its default F16 cache (kernels/wgsl/attention.ts
// computes that cache's arithmetic).
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../../../tools/models/registry.ts';
import { disposeReferenceRuntime, referenceRun } from '../../../tools/reference/reference.ts';
import { memorySource } from '../../gguf/byte-source.ts';
import { installLavapipeNavigatorGpu } from '../../kernels/testing/lavapipe.ts';
import { openHead } from '../head.ts';
import { logSoftmax } from '../logprobs.ts';
import { openModel, type ModelFile } from '../model.ts';
import { createWebGpuBackend, type WebGpuBackend } from './index.ts';

const PROMPT = 'The quick brown fox jumps over the lazy dog. Once upon a time';
/**
 * The bar is 5e-3; this cache computes llama.cpp's own arithmetic rather than approximating
 * it, so the test holds it to 1e-4: measured 7.6e-6 on tiny-llama-f32, against 1.6e-3 with q and the
 * softmax left in f32 (what a bar of 5e-3 would not tell apart).
 */
const TOLERANCE = 1e-4;

beforeAll(() => installLavapipeNavigatorGpu());
afterAll(() => disposeReferenceRuntime());

async function load(path: string): Promise<ModelFile> {
  const buf = readFileSync(path);
  return openModel(memorySource(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)));
}

/**
 * All positions' logits through one GPU stage with an f16 cache: a prefill of 6 tokens, one decoded
 * token, then the rest as a batch (each attending to the positions already cached). Records the bytes of the
 * first layer's K buffer, to tell which storage the cache used.
 */
async function logitsWithF16Cache(backend: WebGpuBackend, model: ModelFile, tokens: number[]): Promise<{ logits: Float32Array; kBytesPerValue: number }> {
  const { nLayer, nEmbd, nVocab, nHeadKv, headDim } = model.config;
  const ctx = backend.context;
  const sizes: number[] = [];
  const storage = ctx.storage.bind(ctx);
  ctx.storage = (label, bytes, data) => {
    if (label === 'k0') sizes.push(bytes);
    return storage(label, bytes, data);
  };
  const stage = await backend.openStage(model, 0, nLayer);
  const tail = await backend.openTail(model);
  const session = stage.createSession({ kvPrecision: 'f16', maxPositions: 64 });
  const hidden = await (await openHead(model)).embed(tokens);
  const logits = new Float32Array(tokens.length * nVocab);
  for (let i = 0; i < tokens.length; ) {
    const n = i === 0 ? 6 : i === 6 ? 1 : tokens.length - i;
    const out = await session.extend(hidden.subarray(i * nEmbd, (i + n) * nEmbd), n);
    logits.set(await tail.logits(out, n), i * nVocab);
    i += n;
  }
  return { logits, kBytesPerValue: sizes[0] / (64 * nHeadKv * headDim) };
}

describe('WebGPU engine, f16 KV cache on a shader-f16 adapter (lavapipe)', () => {
  it(`tiny-llama-f32: the cache held as f16 gives the f32-held logits exactly, within ${TOLERANCE} of llama.cpp's F16 cache`, async () => {
    const path = await ensureModel('tiny-llama-f32');
    const ref = await referenceRun({ modelPath: path, prompt: PROMPT, topK: 5, kvCacheType: 'F16' });
    const model = await load(path);
    const f16 = await createWebGpuBackend();
    const f32 = await createWebGpuBackend({ shaderF16: false });
    expect([f16.info.shaderF16, f32.info.shaderF16]).toEqual([true, false]);
    const a = await logitsWithF16Cache(f16, model, ref.promptTokens);
    const b = await logitsWithF16Cache(f32, model, ref.promptTokens);
    expect([a.kBytesPerValue, b.kBytesPerValue]).toEqual([2, 4]);
    expect(a.logits.every(Number.isFinite)).toBe(true);
    // Bit for bit (a loop: toEqual over half a million floats takes seconds).
    const differ = a.logits.findIndex((x, i) => !Object.is(x, b.logits[i]));
    expect(differ, `first differing logit at ${differ}`).toBe(-1);
    const nVocab = model.config.nVocab;
    const worst = ref.positions.map((top, i) => {
      const lp = logSoftmax(a.logits, i * nVocab, nVocab);
      return Math.max(...top.map((t) => Math.abs(lp[t.id] - t.logprob)));
    });
    expect(Math.max(...worst), worst.map((w) => w.toExponential(1)).join(' ')).toBeLessThan(TOLERANCE);
    f16.info.device.destroy();
    f32.info.device.destroy();
  });
});
