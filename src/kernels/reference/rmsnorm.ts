// RMS norm as ggml_rms_norm followed by the weight multiply (llama.cpp's build_norm with LLM_NORM_RMS):
// the mean of squares is summed in double, the scale is an f32 1/sqrt(mean + eps).
export function rmsnorm(out: Float32Array, x: Float32Array, weight: Float32Array | null, rows: number, dim: number, eps: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    let sum = 0;
    for (let i = 0; i < dim; i++) sum += Math.fround(x[o + i] * x[o + i]); // squared in f32, summed in double
    const mean = Math.fround(sum / dim);
    const scale = Math.fround(1 / Math.fround(Math.sqrt(Math.fround(mean + eps))));
    if (weight) {
      for (let i = 0; i < dim; i++) out[o + i] = Math.fround(x[o + i] * scale) * weight[i];
    } else {
      for (let i = 0; i < dim; i++) out[o + i] = x[o + i] * scale;
    }
  }
}
