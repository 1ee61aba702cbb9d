// Rotary position embedding, following ggml's CPU rope (ggml_rope_ext) step by step in f32: the
// angle for dim pair i is pos * base^(-2i/nRot), built by repeated f32 multiplication as ggml does,
// then YaRN-corrected and divided by llama3's frequency factors when the model has them.
import type { RopeParams } from '../types.ts';

const f = Math.fround;

/** ggml_rope_yarn_corr_dims: the dim range over which YaRN blends interpolation and extrapolation. */
export function yarnCorrDims(nRot: number, nCtxOrig: number, freqBase: number, betaFast: number, betaSlow: number): [number, number] {
  const corrDim = (nRotations: number) => (nRot * Math.log(nCtxOrig / (nRotations * 2 * Math.PI))) / (2 * Math.log(freqBase));
  const start = Math.floor(f(corrDim(betaFast)));
  const end = Math.ceil(f(corrDim(betaSlow)));
  return [Math.max(0, start), Math.min(nRot - 1, end)];
}

/** cos and sin for every rotated pair at one position: out[2i] = cos, out[2i+1] = sin. */
export function ropeCache(pos: number, p: RopeParams, out: Float32Array): void {
  const thetaScale = f(p.freqBase ** (-2 / p.nRot));
  const [low, high] = p.extFactor !== 0 ? yarnCorrDims(p.nRot, p.nCtxOrig, p.freqBase, p.betaFast, p.betaSlow) : [0, 0];
  let theta = f(pos);
  for (let i0 = 0; i0 < p.nRot; i0 += 2) {
    const ff = p.freqFactors ? p.freqFactors[i0 / 2] : 1;
    const extrap = f(theta / ff);
    let t = f(p.freqScale * extrap);
    let mscale = p.attnFactor;
    if (p.extFactor !== 0) {
      const y = (Math.floor(i0 / 2) - low) / Math.max(0.001, high - low);
      const mix = f((1 - Math.min(1, Math.max(0, y))) * p.extFactor);
      t = f(t * (1 - mix) + extrap * mix);
      mscale = f(mscale * f(1 + 0.1 * Math.log(1 / p.freqScale)));
    }
    out[i0] = f(Math.cos(t)) * mscale;
    out[i0 + 1] = f(Math.sin(t)) * mscale;
    theta = f(theta * thetaScale);
  }
}

export function rope(x: Float32Array, nTokens: number, nHeads: number, headDim: number, positions: Int32Array, p: RopeParams): void {
  const cache = new Float32Array(p.nRot);
  // normal: pairs (i, i+1); neox: pairs (i, i + nRot/2). Dims past nRot are left as they are.
  const neox = p.mode === 'neox';
  const offset = neox ? p.nRot / 2 : 1;
  for (let t = 0; t < nTokens; t++) {
    ropeCache(positions[t], p, cache);
    for (let h = 0; h < nHeads; h++) {
      const base = (t * nHeads + h) * headDim;
      for (let i0 = 0; i0 < p.nRot; i0 += 2) {
        const j = base + (neox ? i0 / 2 : i0);
        const cos = cache[i0],
          sin = cache[i0 + 1];
        const x0 = x[j],
          x1 = x[j + offset];
        x[j] = x0 * cos - x1 * sin;
        x[j + offset] = x0 * sin + x1 * cos;
      }
    }
  }
}
