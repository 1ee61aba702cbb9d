// The tail on WebGPU: final RMS norm and the output matmul, reading back logits. Rows go in chunks so
// the logits buffer stays within one binding even for 150k-token vocabularies.
import type { ModelConfig } from '../config.ts';
import { EngineError } from '../errors.ts';
import type { ModelFile } from '../model.ts';
import type { Tail } from '../tail.ts';
import { loadTailWeights } from '../weights.ts';
import type { GpuContext } from './gpu-context.ts';
import { uploadTail } from './gpu-weights.ts';
import { Ops, preparePipelines } from './ops.ts';

const MAX_TOKENS_PER_RUN = 64;

export async function createWebGpuTail(ctx: GpuContext, model: ModelFile): Promise<Tail> {
  const c: ModelConfig = model.config;
  const w = uploadTail(ctx, await loadTailWeights(model.store, c));
  await preparePipelines(ctx, [w.output]);
  const perRun = Math.max(1, Math.min(MAX_TOKENS_PER_RUN, Math.floor(ctx.device.limits.maxStorageBufferBindingSize / (c.nVocab * 4))));
  const dummy = ctx.storage('dummy', 16);
  let cap = 0;
  let x: GPUBuffer, xn: GPUBuffer, rounded: GPUBuffer, logits: GPUBuffer;
  const ensure = (n: number) => {
    if (n <= cap) return;
    if (cap) for (const b of [x, xn, rounded, logits]) b.destroy();
    x = ctx.storage('tail.x', n * c.nEmbd * 4);
    xn = ctx.storage('tail.xn', n * c.nEmbd * 4);
    rounded = ctx.storage('tail.rounded', n * c.nEmbd * 4);
    logits = ctx.storage('logits', n * c.nVocab * 4);
    cap = n;
  };
  return {
    async logits(hidden, nTokens) {
      if (hidden.length !== nTokens * c.nEmbd) {
        throw new EngineError('engine_bad_input', `tail got ${hidden.length} values for ${nTokens} tokens of width ${c.nEmbd}`);
      }
      const out = new Float32Array(nTokens * c.nVocab);
      for (let t0 = 0; t0 < nTokens; t0 += perRun) {
        const n = Math.min(perRun, nTokens - t0);
        ensure(n);
        const ops = new Ops(ctx.recorder(), rounded, dummy);
        ops.r.upload(x, hidden.subarray(t0 * c.nEmbd, (t0 + n) * c.nEmbd));
        ops.rmsnorm(x, w.outputNorm, xn, n, c.nEmbd, c.normEps);
        ops.matmul(w.output, xn, logits, n);
        out.set((await ops.r.run(logits, n * c.nVocab * 4))!, t0 * c.nVocab);
      }
      return out;
    },
  };
}
