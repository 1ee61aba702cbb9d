// llama.cpp's reference quantizers as a command: harness.c linked with the bundled ggml-quants.c,
// compiled on demand with gcc (no FMA contraction) into .cache/quant-ref/. The byte-identity test of
// src/gguf/quant/ runs both on the same floats.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir, llamaCppSource } from '../llama-source.ts';

const FLAGS = ['-O2', '-ffp-contract=off', '-DNDEBUG', '-std=gnu11', '-w'];
const harness = join(import.meta.dirname, 'harness.c');

/** Path of the compiled harness, building it when the sources or flags changed. */
export function quantRefBinary(): string {
  const src = llamaCppSource();
  const quants = join(src, 'ggml', 'src', 'ggml-quants.c');
  const hash = createHash('sha256').update(readFileSync(quants)).update(readFileSync(harness)).update(FLAGS.join(' ')).digest('hex').slice(0, 12);
  const dir = join(cacheDir, 'quant-ref');
  const bin = join(dir, `quant-ref-${hash}`);
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  const tmp = `${bin}.tmp-${process.pid}`;
  const include = ['-I', join(src, 'ggml', 'include'), '-I', join(src, 'ggml', 'src')];
  try {
    execFileSync('gcc', [...FLAGS, ...include, harness, quants, '-lm', '-o', tmp], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    rmSync(tmp, { force: true });
    const stderr = (e as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`could not compile the llama.cpp quantizer harness (is gcc installed? apt-get install gcc): ${stderr || String(e)}`);
  }
  renameSync(tmp, bin); // atomic: parallel workers never run a half-written binary
  return bin;
}

/** Runs llama.cpp's quantizer for `typeName` (e.g. 'Q4_K') on each row; returns the encoded rows, joined. */
export function quantizeWithLlamaCpp(typeName: string, rows: readonly Float32Array[]): Uint8Array {
  const size = rows.reduce((n, r) => n + 4 + r.byteLength, 0);
  const input = new Uint8Array(size);
  const view = new DataView(input.buffer);
  let o = 0;
  for (const row of rows) {
    view.setUint32(o, row.length, true);
    input.set(new Uint8Array(row.buffer, row.byteOffset, row.byteLength), o + 4);
    o += 4 + row.byteLength;
  }
  return new Uint8Array(execFileSync(quantRefBinary(), [typeName], { input, maxBuffer: 1 << 30 }));
}
