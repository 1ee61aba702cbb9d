// The f16 KV cache kernels against the f32 ones, on a real shader-f16 adapter: Dawn for Node over
// lavapipe (lavapipe-testing.ts; Chromium offers no such adapter here: only SwiftShader, without f16).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attentionWgsl, STORE_KV_F16_WGSL } from './attention.ts';
import { STORE_KV_WGSL } from './elementwise.ts';
import { lavapipeF16Device } from '../testing/lavapipe.ts';

let device: GPUDevice;

beforeAll(async () => {
  device = await lavapipeF16Device();
});

afterAll(() => device?.destroy());

function buffer(bytes: number, data?: Float32Array): GPUBuffer {
  const b = device.createBuffer({ size: Math.max(16, bytes), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  if (data) device.queue.writeBuffer(b, 0, data);
  return b;
}

function dispatch(code: string, buffers: GPUBuffer[], params: number[], groups: [number, number]): void {
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code }), entryPoint: 'main' } });
  const uniform = device.createBuffer({ size: Math.max(16, params.length * 4), usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(uniform, 0, new Uint32Array(params));
  const bind = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [uniform, ...buffers].map((b, binding) => ({ binding, resource: { buffer: b } })),
  });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bind);
  pass.dispatchWorkgroups(...groups);
  pass.end();
  device.queue.submit([encoder.finish()]);
}

async function read(b: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
  const staging = device.createBuffer({ size: b.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(b, 0, staging, 0, b.size);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = staging.getMappedRange().slice(0, bytes);
  staging.unmap();
  staging.destroy();
  return out;
}

/** fp16 bits → f32, exactly (subnormals included). */
function halfToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1,
    e = (h >> 10) & 0x1f,
    m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Values of every fp16 regime: normal, subnormal (below 6.1e-5), ties to round, large. */
function values(n: number, seed: number): Float32Array {
  let x = seed;
  const rnd = () => ((x = (x * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  return Float32Array.from({ length: n }, (_, i) => {
    const r = rnd();
    switch (i % 7) {
      case 0:
        return r * 3e-6; // fp16 subnormal range
      case 1:
        return 1 + (Math.round(r * 2048) + 0.5) / 2048; // exactly halfway between two fp16s
      case 2:
        return r * 900;
      default:
        return r * 2;
    }
  });
}

/** x rounded to the nearest fp16 (ties to even), as ggml's fp32_to_fp16; finite inputs in range. */
function roundF16(x: number): number {
  const a = Math.abs(x);
  if (a === 0) return x;
  const ulp = 2 ** (Math.max(Math.floor(Math.log2(a)), -14) - 10);
  const q = a / ulp,
    f = Math.floor(q);
  const r = q - f > 0.5 || (q - f === 0.5 && f % 2 === 1) ? f + 1 : f;
  return Math.sign(x) * r * ulp;
}

describe('f16 KV cache kernels (shader-f16, lavapipe)', () => {
  const nHead = 4,
    nHeadKv = 2,
    headDim = 96,
    kvDim = nHeadKv * headDim;
  const cap = 16,
    nTokens = 5,
    pos0 = 3;

  /** Stores a prompt of 3 then a batch of 5 positions, attends the batch; returns q, caches, output. */
  async function run(f16Cache: boolean, f16Storage: boolean): Promise<{ q: Float32Array; k: Float32Array; v: Float32Array; o: Float32Array }> {
    const bytes = f16Storage ? 2 : 4;
    const kc = buffer(cap * kvDim * bytes),
      vc = buffer(cap * kvDim * bytes);
    const store = f16Storage ? STORE_KV_F16_WGSL : STORE_KV_WGSL;
    let pos = 0;
    let q = new Float32Array(0);
    for (const [n, seed] of [
      [pos0, 1],
      [nTokens, 2],
    ] as const) {
      const k = buffer(n * kvDim * 4, values(n * kvDim, seed * 10 + 1));
      const v = buffer(n * kvDim * 4, values(n * kvDim, seed * 10 + 2));
      dispatch(store, [k, v, kc, vc], [n * kvDim, pos * kvDim, 1], [Math.ceil((n * kvDim) / 64), 1]);
      q = values(n * nHead * headDim, seed * 10 + 3).map((a) => a / 300);
      pos += n;
    }
    const qb = buffer(q.byteLength, q),
      ob = buffer(nTokens * nHead * headDim * 4);
    const scale = new Uint32Array(new Float32Array([1 / Math.sqrt(headDim)]).buffer)[0];
    dispatch(attentionWgsl(f16Cache, f16Storage), [qb, kc, vc, ob], [nTokens, pos0, nHead, nHeadKv, headDim, scale, 0, 0], [nHead, nTokens]);
    const widen = async (b: GPUBuffer) => {
      const raw = await read(b, pos * kvDim * bytes);
      return f16Storage ? Float32Array.from(new Uint16Array(raw), halfToF32) : new Float32Array(raw);
    };
    return { q, k: await widen(kc), v: await widen(vc), o: new Float32Array(await read(ob, nTokens * nHead * headDim * 4)) };
  }

  /** llama.cpp's F16-cache attention in float64: q and the normalized softmax rounded to fp16. */
  function llamaF16Attention(q: Float32Array, k: Float32Array, v: Float32Array): Float64Array {
    const o = new Float64Array(nTokens * nHead * headDim);
    for (let t = 0; t < nTokens; t++) {
      for (let h = 0; h < nHead; h++) {
        const qo = (t * nHead + h) * headDim,
          ko = Math.floor(h / (nHead / nHeadKv)) * headDim;
        const visible = pos0 + t + 1;
        const s = Array.from({ length: visible }, (_, j) => {
          let qk = 0;
          for (let i = 0; i < headDim; i++) qk += roundF16(q[qo + i]) * k[j * kvDim + ko + i];
          return qk / Math.sqrt(headDim);
        });
        const m = Math.max(...s),
          sum = s.reduce((a, x) => a + Math.exp(x - m), 0);
        for (let j = 0; j < visible; j++) {
          const p = roundF16(Math.exp(s[j] - m) / sum);
          for (let d = 0; d < headDim; d++) o[qo + d] += p * v[j * kvDim + ko + d];
        }
      }
    }
    return o;
  }

  const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    let m = 0;
    for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
    return m;
  };

  it('stores the same fp16-rounded values as the f32 cache, subnormals and ties included', async () => {
    const [a, b] = [await run(true, false), await run(true, true)];
    expect(b.k).toEqual(a.k);
    expect(b.v).toEqual(a.v);
    expect(a.k.some((x) => x !== 0 && Math.abs(x) < 6.1e-5)).toBe(true); // the subnormal case was exercised
  });

  it('attends to the f16-held cache with exactly the f32-held results', async () => {
    const [a, b] = [await run(true, false), await run(true, true)];
    expect(a.o.every(Number.isFinite)).toBe(true);
    expect(Array.from(b.o)).toEqual(Array.from(a.o));
  });

  it("computes llama.cpp's F16-cache attention (q and the softmax in fp16), unlike the f32 kernel", async () => {
    const f16 = await run(true, true),
      f32 = await run(false, false);
    const want = llamaF16Attention(f16.q, f16.k, f16.v);
    const scale = maxDiff(want, new Float64Array(want.length));
    // f32 arithmetic against float64, relative to the outputs' largest magnitude (values reach 900).
    const tolerance = 1e-6;
    expect(maxDiff(f16.o, want) / scale).toBeLessThan(tolerance);
    expect(maxDiff(f32.o, want) / scale).toBeGreaterThan(10 * tolerance); // the roundings matter on this data
  });
});
