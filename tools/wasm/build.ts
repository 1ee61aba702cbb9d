// Rebuilds src/kernels/wasm/kernels.wasm (single-threaded), kernels-threads.wasm (shared memory, for
// the worker pool) and their relaxed-SIMD twins (int8 dot products) from the C sources beside them
// with Debian's clang 16 + lld 16. The binaries are committed, so users and `npm start` never need a C
// compiler; this script (and the test that compares its output with the committed files) only runs
// where clang 16 is installed: another clang version compiles different (if equivalent) bytes.
//   node tools/wasm/build.ts           rebuild the committed binaries
//   node tools/wasm/build.ts --check   exit 1 if a committed binary differs from a fresh build
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SOURCE_DIR = fileURLToPath(new URL('../../src/kernels/wasm/c/', import.meta.url));

/** The compiler flags; a change here changes the binaries, so the check test catches stale builds. */
const FLAGS = [
  '--target=wasm32',
  '-msimd128',
  '-O3',
  '-nostdlib',
  '-ffreestanding',
  '-Wall',
  '-Werror',
  '-Wl,--no-entry',
  '-Wl,--import-memory',
  '-Wl,--export=__heap_base',
  '-Wl,-z,stack-size=65536',
  '-Wl,--strip-all',
];

/** The threaded builds import a shared memory and let each worker set its own stack. */
const THREADS = ['-matomics', '-mbulk-memory', '-mmutable-globals', '-Wl,--shared-memory', '-Wl,--max-memory=4294967296', '-Wl,--export=__stack_pointer'];
/** The relaxed builds dot int8 activations with i32x4.relaxed_dot_i8x16_i7x16_add_s (see RELAXED in common.h). */
const RELAXED = ['-mrelaxed-simd', '-DRELAXED=1'];

export const VARIANTS = {
  'kernels.wasm': [],
  'kernels-threads.wasm': THREADS,
  'kernels-relaxed.wasm': RELAXED,
  'kernels-relaxed-threads.wasm': [...RELAXED, ...THREADS],
} as const;
export type Variant = keyof typeof VARIANTS;

export function binaryPath(variant: Variant): string {
  return fileURLToPath(new URL(`../../src/kernels/wasm/${variant}`, import.meta.url));
}

/** The compiler every committed binary is built with (Debian: apt-get install clang-16 lld-16). */
const CLANG = 'clang-16';
export const TOOLCHAIN_HINT = 'clang 16 and lld 16 are needed to rebuild the WASM kernels: apt-get install clang-16 lld-16';

/** True when clang-16 is on the PATH and finds a wasm-ld (lld-16) to link with. */
export function toolchainAvailable(): boolean {
  try {
    const ld = execFileSync(CLANG, ['-print-prog-name=wasm-ld'], { encoding: 'utf8' }).trim();
    execFileSync(ld, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Compiles the C sources and returns the module bytes. */
export function buildKernels(variant: Variant): Uint8Array {
  const sources = readdirSync(SOURCE_DIR)
    .filter((f) => f.endsWith('.c'))
    .sort();
  const dir = mkdtempSync(join(tmpdir(), 'wasm-kernels-'));
  try {
    const out = join(dir, 'kernels.wasm');
    // Relative paths and a fixed working directory keep the output byte-identical across checkouts.
    execFileSync(CLANG, [...FLAGS, ...VARIANTS[variant], ...sources, '-o', out], { cwd: SOURCE_DIR, stdio: ['ignore', 'inherit', 'inherit'] });
    return new Uint8Array(readFileSync(out));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (!toolchainAvailable()) {
    console.error(TOOLCHAIN_HINT);
    process.exit(1);
  }
  let stale = false;
  for (const variant of Object.keys(VARIANTS) as Variant[]) {
    const fresh = buildKernels(variant);
    if (process.argv.includes('--check')) {
      const same = Buffer.from(fresh).equals(readFileSync(binaryPath(variant)));
      console.log(same ? `${variant} matches its sources` : `${variant} is stale: run node tools/wasm/build.ts`);
      stale ||= !same;
    } else {
      writeFileSync(binaryPath(variant), fresh);
      console.log(`wrote ${binaryPath(variant)} (${fresh.byteLength} bytes)`);
    }
  }
  process.exit(stale ? 1 : 0);
}
