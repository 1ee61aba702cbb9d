// The fast CPU backend: matmul, attention and SwiGLU run in WebAssembly SIMD (kernels.wasm, built
// from c/); the light elementwise ops (a few thousand values per token, no transcendental) stay in
// the reference TypeScript, where they are as fast as a copy into WASM memory and back would be.
import { referenceKernels } from '../reference/index.ts';
import type { Kernels } from '../types.ts';
import { wasmAttention } from './attention.ts';
import { wasmSwiglu } from './elementwise.ts';
import { instantiateKernels, type KernelInstance } from './instance.ts';
import { kernelVariant, relaxedSimdSupported, type SimdBuild, simdSupported } from './load-module.ts';
import { singleThreaded, wasmMatmul } from './matmul.ts';
import { ThreadPool } from './thread-pool.ts';
import { ResidentKv } from './resident-kv.ts';
import { ResidentWeights } from './resident-weights.ts';
import { MeshError } from '../../protocol/errors.ts';

export interface WasmKernelOptions {
  /**
   * Threads for matmul, counting the caller (default 1). More than 1 needs SharedArrayBuffer: Node,
   * or a cross-origin isolated page; elsewhere the kernels quietly stay single-threaded.
   */
  readonly threads?: number;
  /**
   * Which build of the kernels (bit-identical results): 'relaxed' (int8 dot products, about twice
   * the multiply-adds per instruction) or 'plain'. Default: relaxed where the engine has relaxed SIMD,
   * unless the environment variable MESH_WASM_SIMD=plain asks for the plain one (for A/B runs in Node).
   */
  readonly simd?: SimdBuild;
  /**
   * Relaxed build only: run Q8_0 in int16 as the plain build does (true) or in int8 (false). Default:
   * int16 where the int8 dot-add is slow here (x86 without AVX-VNNI: V8 lowers it to three
   * instructions), timed once by dot_probe. The results are the same bits either way.
   */
  readonly q8_0Int16?: boolean;
}

export interface WasmKernels extends Kernels {
  /** Bytes of WASM memory in use (resident weights and scratch). */
  readonly residentBytes: number;
  /** Threads matmul and attention actually run on (1 where SharedArrayBuffer is unavailable). */
  readonly threads: number;
  /** The build running: 'relaxed' or 'plain' (see WasmKernelOptions.simd). */
  readonly simd: SimdBuild;
  /** How Q8_0 weights are dotted: 'int8' (relaxed build, fast int8 dots) or 'int16'. */
  readonly q8_0Dot: 'int8' | 'int16';
  /** Stops the worker threads; the kernels must not be used afterwards. */
  dispose(): void;
}

/** Whether worker threads can share the kernels' memory here. */
export function threadsAvailable(): boolean {
  if (typeof SharedArrayBuffer === 'undefined') return false;
  if (typeof process !== 'undefined' && process.versions?.node) return true;
  return (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
}

/** The build asked for, or the default: relaxed where supported, unless MESH_WASM_SIMD=plain. */
function simdBuild(asked: SimdBuild | undefined): SimdBuild {
  const env = typeof process !== 'undefined' ? process.env?.MESH_WASM_SIMD : undefined;
  if (env !== undefined && env !== 'relaxed' && env !== 'plain') {
    throw new MeshError('kernel_wasm_unavailable', `MESH_WASM_SIMD is "${env}"; set it to relaxed or plain, or unset it`);
  }
  const want = asked ?? env;
  if (want === 'relaxed' && !relaxedSimdSupported()) {
    throw new MeshError('kernel_wasm_unavailable', 'this JavaScript engine has no WebAssembly relaxed SIMD; ask for the plain WASM build (simd: plain)');
  }
  return want ?? (relaxedSimdSupported() ? 'relaxed' : 'plain');
}

/**
 * Whether the int8 dot-add is fast here: dot_probe's int8 rounds against the same rounds of int16
 * dots, best of 3 (5-10 ms in all; long enough for a browser's 0.1 ms timer). With AVX-VNNI they take
 * about 1.3 times as long (Chromium 156 here), lowered to pmaddubsw + pmaddwd + add about 4 times.
 */
function int8DotFast(k: KernelInstance): boolean {
  const rounds = 600000;
  const time = (relaxed: number) => {
    let best = Infinity;
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      k.exports.dot_probe(rounds, relaxed);
      best = Math.min(best, performance.now() - t0);
    }
    return best;
  };
  k.exports.dot_probe(rounds / 10, 1); // compiled before it is timed
  return time(1) < 2 * time(0);
}

/** WASM SIMD kernels, multi-threaded when asked and possible, single-threaded otherwise. */
export async function createWasmKernels(options: WasmKernelOptions = {}): Promise<WasmKernels> {
  if (!simdSupported()) {
    throw new MeshError('kernel_wasm_unavailable', 'this JavaScript engine has no WebAssembly SIMD; use the reference or WebGPU backend');
  }
  const wantThreads = Math.max(1, Math.floor(options.threads ?? 1));
  const threaded = wantThreads > 1 && threadsAvailable();
  const simd = simdBuild(options.simd);
  const k: KernelInstance = await instantiateKernels(kernelVariant(simd, threaded));
  const pool = threaded ? await ThreadPool.start(k, wantThreads) : undefined;
  const run = pool ? pool.matmul.bind(pool) : singleThreaded(k);
  const q8_0Int16 = simd === 'plain' || (options.q8_0Int16 ?? !int8DotFast(k));
  const weights = new ResidentWeights(k, { q8_0Int16: simd === 'relaxed' && q8_0Int16 });
  const kv = new ResidentKv(k.heap);
  const ref = referenceKernels;
  return {
    name: 'wasm',
    threads: pool?.threads ?? 1,
    simd,
    q8_0Dot: q8_0Int16 ? 'int16' : 'int8',
    get residentBytes() {
      return k.heap.used;
    },
    dispose: () => pool?.stop(),
    matmul: (out, x, w, n) => wasmMatmul(k, run, weights, out, x, w, n),
    attention: (out, q, kc, vc, nTokens, firstPos, shape) => wasmAttention(k, pool, kv, out, q, kc, vc, nTokens, firstPos, shape),
    rmsnorm: ref.rmsnorm,
    rope: ref.rope,
    swiglu: (out, gate, up, len) => wasmSwiglu(k, out, gate, up, len),
    add: ref.add,
    addBias: ref.addBias,
    softmax: ref.softmax,
    embed: ref.embed,
    weightHome: weights,
  };
}
