// The committed kernels.wasm must be what its C sources compile to, so nobody ships a stale binary.
// Needs clang 16 + lld 16 (apt-get install clang-16 lld-16); skipped where they are missing (users never need them).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { binaryPath, buildKernels, toolchainAvailable, VARIANTS, type Variant } from './build.ts';

describe.each(Object.keys(VARIANTS) as Variant[])('%s', (variant) => {
  it.skipIf(!toolchainAvailable())('is byte-identical to a fresh build of src/kernels/wasm/c', () => {
    const fresh = buildKernels(variant);
    const committed = new Uint8Array(readFileSync(binaryPath(variant)));
    const stale = `${variant} is stale: run node tools/wasm/build.ts`;
    expect(committed.byteLength, stale).toBe(fresh.byteLength);
    expect(Buffer.from(committed).equals(Buffer.from(fresh)), stale).toBe(true);
  });

  it('is a valid WebAssembly module exporting the kernels', () => {
    const module = new WebAssembly.Module(readFileSync(binaryPath(variant)));
    const names = WebAssembly.Module.exports(module).map((e) => e.name);
    expect(names).toEqual(expect.arrayContaining(['matmul', 'quantize_q8_0', 'quantize_q8_k', 'attention', '__heap_base']));
  });
});
