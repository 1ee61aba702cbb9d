// Elementwise ops: SwiGLU, add, bias add and softmax, each as ggml computes them in f32.

/** silu(g) * u; silu(g) = g / (1 + e^-g), rounded to f32 before the product as ggml's swiglu does. */
export function swiglu(out: Float32Array, gate: Float32Array, up: Float32Array, len: number): void {
  for (let i = 0; i < len; i++) {
    const g = gate[i];
    out[i] = Math.fround(g / (1 + Math.exp(-g))) * up[i];
  }
}

export function add(out: Float32Array, a: Float32Array, b: Float32Array, len: number): void {
  for (let i = 0; i < len; i++) out[i] = a[i] + b[i];
}

export function addBias(x: Float32Array, bias: Float32Array, rows: number, dim: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    for (let i = 0; i < dim; i++) x[o + i] += bias[i];
  }
}

/** Max-subtracted softmax; the sum runs in double like ggml's ggml_vec_soft_max_f32. */
export function softmax(x: Float32Array, offset: number, len: number): void {
  let max = -Infinity;
  for (let i = 0; i < len; i++) if (x[offset + i] > max) max = x[offset + i];
  let sum = 0;
  for (let i = 0; i < len; i++) {
    const e = Math.fround(Math.exp(x[offset + i] - max));
    x[offset + i] = e;
    sum += e;
  }
  const inv = Math.fround(1 / sum);
  for (let i = 0; i < len; i++) x[offset + i] *= inv;
}
