// Loads the compiled kernels (kernels*.wasm, committed beside this file) in Node and in the browser:
// Vite turns `new URL('./kernels.wasm', import.meta.url)` into an asset URL; Node reads the file.
import { MeshError } from '../../protocol/errors.ts';

// Literal URLs, so Vite sees and copies every file.
const URLS = {
  single: new URL('./kernels.wasm', import.meta.url),
  threads: new URL('./kernels-threads.wasm', import.meta.url),
  'relaxed-single': new URL('./kernels-relaxed.wasm', import.meta.url),
  'relaxed-threads': new URL('./kernels-relaxed-threads.wasm', import.meta.url),
};
/**
 * 'threads' imports a shared memory (SharedArrayBuffer: cross-origin isolated pages and Node only);
 * the 'relaxed-' builds need relaxed SIMD (relaxedSimdSupported) and give the same results, faster.
 */
export type KernelVariant = keyof typeof URLS;

/** Which SIMD build: 'relaxed' (int8 dot products) or 'plain' (the SIMD every WebAssembly engine with SIMD has). */
export type SimdBuild = 'relaxed' | 'plain';

export function kernelVariant(simd: SimdBuild, threads: boolean): KernelVariant {
  if (simd === 'relaxed') return threads ? 'relaxed-threads' : 'relaxed-single';
  return threads ? 'threads' : 'single';
}

async function readBytes(url: URL): Promise<ArrayBuffer> {
  if (url.protocol === 'file:') {
    const fsName = 'node:fs/promises'; // a variable, so bundlers leave Node's fs out of browser builds
    const fs = (await import(/* @vite-ignore */ fsName)) as typeof import('node:fs/promises');
    const bytes = await fs.readFile(url);
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }
  const response = await fetch(url);
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.arrayBuffer();
}

const compiled = new Map<KernelVariant, Promise<WebAssembly.Module>>();

/** The compiled module, fetched and compiled once per JS realm (instances are cheap after that). */
export function kernelModule(variant: KernelVariant = 'single'): Promise<WebAssembly.Module> {
  let module = compiled.get(variant);
  if (!module) {
    const url = URLS[variant];
    module = readBytes(url)
      .then((bytes) => WebAssembly.compile(bytes))
      .catch((cause: unknown) => {
        compiled.delete(variant);
        throw new MeshError(
          'kernel_wasm_unavailable',
          `could not load the WASM kernels from ${url.href}: ${String(cause)}. Check that the .wasm files beside src/kernels/wasm/index.ts are served (Vite copies them as assets), or use the reference backend`,
          { cause },
        );
      });
    compiled.set(variant, module);
  }
  return module;
}

/** WebAssembly SIMD (128-bit) support: a module using one v128 instruction validates. */
export function simdSupported(): boolean {
  // (module (func (result v128) (v128.const i32x4 0 0 0 0)))
  const probe = Uint8Array.from([
    0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 22, 1, 20, 0, 253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11,
  ]);
  return WebAssembly.validate(probe);
}

/** A module of one function: three v128.const zeros, then `op` (a SIMD opcode, LEB128 bytes after 0xfd). */
function simdProbe(op: number[]): Uint8Array<ArrayBuffer> {
  const zero = [0xfd, 0x0c, ...new Array<number>(16).fill(0)];
  const body = [0, ...zero, ...zero, ...zero, 0xfd, ...op, 0x0b];
  const code = [1, body.length, ...body];
  return Uint8Array.from([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, code.length, ...code]);
}

/** Relaxed SIMD (Chromium 114+ and Node 22 have it, Safari not): i32x4.relaxed_dot_i8x16_i7x16_add_s validates. */
export function relaxedSimdSupported(): boolean {
  return WebAssembly.validate(simdProbe([0x93, 0x02])); // opcode 0x113
}
