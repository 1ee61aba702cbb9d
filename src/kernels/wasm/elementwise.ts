// Elementwise ops on the WASM kernels where the SIMD version pays for the copies in and out:
// SwiGLU, whose e^x per value made it a tenth of a single-threaded prefill in TypeScript.
import { MeshError } from '../../protocol/errors.ts';
import type { KernelInstance } from './instance.ts';

/** out = silu(gate) · up over len values, silu in double rounded once to f32: the reference's bit for bit. */
export function wasmSwiglu(k: KernelInstance, out: Float32Array, gate: Float32Array, up: Float32Array, len: number): void {
  if (gate.length < len || up.length < len || out.length < len) {
    throw new MeshError('kernel_bad_shape', `swiglu over ${len} values, but buffers hold ${gate.length}, ${up.length} and ${out.length}`);
  }
  if (len === 0) return;
  const { heap, exports: e } = k;
  const g = heap.region('swiglu.gate', len * 4);
  const u = heap.region('swiglu.up', len * 4);
  heap.f32(g, len).set(gate.subarray(0, len));
  heap.f32(u, len).set(up.subarray(0, len));
  e.swiglu(g, u, g, len);
  out.set(heap.f32(g, len));
}
