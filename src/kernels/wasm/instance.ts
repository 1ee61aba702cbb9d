// One instance of the kernel module: its exports, typed, and the heap over its memory.
import { WasmHeap } from './heap.ts';
import type { Attention } from './thread-protocol.ts';
import { kernelModule, type KernelVariant } from './load-module.ts';

/** The C functions (src/kernels/wasm/c/*.c); pointers are byte offsets into the module's memory. */
export interface KernelExports {
  /** layout (relaxed build; see activations.c): 0 for Q8_0 weights, 1 for Q4_0/Q5_0, 2 for Q8_0_I16. */
  quantize_q8_0(x: number, n: number, cols: number, q: number, d: number, d4: number, layout: number): void;
  quantize_q8_k(x: number, n: number, cols: number, q: number, d: number, sums: number): void;
  round_f16(x: number, out: number, len: number): void;
  round_bf16(x: number, out: number, len: number): void;
  swiglu(gate: number, up: number, out: number, len: number): void;
  matmul(
    type: number,
    out: number,
    outStride: number,
    w: number,
    rowBytes: number,
    r0: number,
    r1: number,
    x: number,
    d: number,
    sums: number,
    n: number,
    cols: number,
  ): number;
  f16_finite(p: number, count: number): number;
  q8_0_has_min(p: number, blocks: number): number;
  dot_probe(n: number, relaxed: number): number;
  attention: Attention;
  readonly __heap_base: WebAssembly.Global;
  /** Only in the threads variant: each worker instance points it at a stack of its own. */
  readonly __stack_pointer?: WebAssembly.Global;
}

export interface KernelInstance {
  readonly exports: KernelExports;
  readonly heap: WasmHeap;
  readonly module: WebAssembly.Module;
}

/** Largest memory of the threads variant: a shared memory must declare its maximum (4 GiB, wasm32's limit). */
const MAX_PAGES = 65536;

/** Instantiates the kernels over a fresh memory (shared for the threads variant). */
export async function instantiateKernels(variant: KernelVariant = 'single'): Promise<KernelInstance> {
  const module = await kernelModule(variant);
  const memory = variant.endsWith('threads')
    ? new WebAssembly.Memory({ initial: 32, maximum: MAX_PAGES, shared: true })
    : new WebAssembly.Memory({ initial: 32 });
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  const exports = instance.exports as unknown as KernelExports;
  return { exports, heap: new WasmHeap(memory, exports.__heap_base.value as number), module };
}
