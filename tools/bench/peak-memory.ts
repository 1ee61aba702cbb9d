// Peak memory of our engine (or of native llama.cpp, --engine native) on one model, in a fresh Node
// process so its peak RSS is this model's alone: load, a 96-token prefill, then greedy decode. The
// child prints one JSON line (PeakMemory); ratio = (peak − 100 MB) ÷ (weights + KV cache) is issue
// 14's peak_mem/weights (goal ≤ 1.25).
// Usage: node tools/bench/peak-memory.ts <model name or path> [--engine ours|native] [--backend cpu] [--threads 1] [--positions 1024] [--gen 16]
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Engine, type BackendName } from '../../src/engine/engine.ts';
import { fileSource } from '../../src/engine/file-source.ts';
import { openModel } from '../../src/engine/model.ts';
import { ensureModel } from '../models/registry.ts';

export interface PeakMemory {
  /** Highest resident set size of the process, in bytes. */
  readonly peakRssBytes: number;
  /** RSS before the engine started loading (Node, the engine's code and the WASM module compiled). */
  readonly baseRssBytes: number;
  /** RSS right after the engine finished loading. */
  readonly loadedRssBytes: number;
  /** The model's tensor bytes as stored in the file. */
  readonly weightBytes: number;
  /** The f32 KV cache at `positions` positions, as our engine holds it. */
  readonly kvBytes: number;
  readonly fileBytes: number;
  /** From opening the file to a loaded engine (weights read, nothing run). */
  readonly loadMs: number;
  /** (peak − 100 MB) ÷ (weights + KV cache). */
  readonly ratio: number;
}

export interface PeakMemoryOptions {
  /** Ours (the Engine) or native llama.cpp through node-llama-cpp (its F16 KV cache of `positions`, as the bench runs it). */
  readonly engine?: 'ours' | 'native';
  readonly backend?: BackendName;
  readonly threads?: number;
  readonly positions?: number;
  readonly gen?: number;
}

const PROMPT_TOKENS = 96;

/**
 * This process's peak RSS (VmHWM), reset when it started. Not getrusage's maxRSS: Linux carries that
 * over from the parent across fork and exec, so a child of a big bench process reports the parent's.
 */
function peakRssOfSelf(): number {
  const m = /VmHWM:\s*(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : process.resourceUsage().maxRSS * 1024;
}

export const MB = 1e6;

/** Runs the measurement in a child process (the peak RSS must be the model's alone). */
export function measurePeakMemory(model: string, o: PeakMemoryOptions = {}): Promise<PeakMemory> {
  const args = [fileURLToPath(import.meta.url), model, '--child'];
  for (const [k, v] of Object.entries(o)) args.push(`--${k}`, String(v));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !line.startsWith('{')) reject(new Error(`peak-memory child exited with ${code}: ${out.slice(-500)}`));
      else resolve(JSON.parse(line) as PeakMemory);
    });
  });
}

/** A fixed prompt of ids every vocabulary has. */
const promptIds = (nVocab: number) => Array.from({ length: PROMPT_TOKENS }, (_, i) => (i * 7919 + 13) % Math.min(nVocab, 1000));

/** Weight bytes of the file and its KV cache at `positions` (`bytesPerValue` 4: ours, f32; 2: llama.cpp's f16). */
async function sizesOf(path: string, positions: number, bytesPerValue: number): Promise<{ weightBytes: number; kvBytes: number }> {
  const source = await fileSource(path);
  try {
    const { header, config: c } = await openModel(source);
    return {
      weightBytes: header.tensors.reduce((s, t) => s + t.byteSize, 0),
      kvBytes: c.nLayer * 2 * c.nHeadKv * c.headDim * positions * bytesPerValue,
    };
  } finally {
    await source.close();
  }
}

async function nativeChild(path: string, o: Required<PeakMemoryOptions>): Promise<PeakMemory> {
  const { weightBytes, kvBytes } = await sizesOf(path, o.positions, 2);
  // Imported here: node-llama-cpp's own memory must not count against ours.
  const { LlamaRuntime } = await import('../reference/llama-runtime.ts');
  const { nativeSetup } = await import('./native.ts');
  const runtime = new LlamaRuntime({ cpuVariant: 'best' });
  await runtime.instance();
  const baseRssBytes = process.memoryUsage().rss;
  const t0 = performance.now();
  await runtime.model(path);
  const loadMs = performance.now() - t0;
  const loadedRssBytes = process.memoryUsage().rss;
  // One context of `threads` threads (nativeSetup adds a 1-thread one when threads > 1, as the bench does).
  const native = await nativeSetup(runtime, path, promptIds(1000), o.gen, o.threads);
  await native.round();
  const peakRssBytes = peakRssOfSelf();
  await native.dispose();
  await runtime.dispose();
  return measured(path, { peakRssBytes, baseRssBytes, loadedRssBytes, weightBytes, kvBytes, loadMs });
}

/** A run's figures, with the file's size and the ratio the bench line reports: (peak − 100 MB) ÷ (weights + KV cache). */
function measured(path: string, m: Omit<PeakMemory, 'fileBytes' | 'ratio'>): PeakMemory {
  return { ...m, fileBytes: statSync(path).size, ratio: (m.peakRssBytes - 100 * MB) / (m.weightBytes + m.kvBytes) };
}

async function child(model: string, o: Required<PeakMemoryOptions>): Promise<PeakMemory> {
  const path = existsSync(model) ? model : await ensureModel(model);
  if (o.engine === 'native') return nativeChild(path, o);
  await import('../../src/kernels/wasm/index.ts').then((m) => m.createWasmKernels()).then((k) => k.dispose());
  const baseRssBytes = process.memoryUsage().rss;
  const t0 = performance.now();
  const engine = await Engine.load(path, { backend: o.backend, threads: o.threads, maxPositions: o.positions });
  const loadMs = performance.now() - t0;
  const loadedRssBytes = process.memoryUsage().rss;
  try {
    const c = engine.config;
    const weightBytes = engine.model.header.tensors.reduce((s, t) => s + t.byteSize, 0);
    const kvBytes = c.nLayer * 2 * c.nHeadKv * c.headDim * o.positions * 4;
    const prompt = promptIds(c.nVocab);
    const session = engine.createSession();
    let logits = await session.extend(prompt, { logits: 'last' });
    for (let i = 0; i < o.gen; i++) {
      let best = 0;
      for (let j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
      logits = await session.extend([best], { logits: 'last' });
    }
    session.free();
    const peakRssBytes = peakRssOfSelf();
    return measured(path, { peakRssBytes, baseRssBytes, loadedRssBytes, weightBytes, kvBytes, loadMs });
  } finally {
    await engine.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const opt = (name: string, fallback: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : fallback;
  };
  const model = argv[0];
  if (!model || model.startsWith('--')) {
    console.error('usage: node tools/bench/peak-memory.ts <model name or path> [--backend cpu] [--threads 1] [--positions 1024] [--gen 16]');
    process.exit(2);
  }
  const o = {
    engine: opt('engine', 'ours') as 'ours' | 'native',
    backend: opt('backend', 'cpu') as BackendName,
    threads: Number(opt('threads', '1')),
    positions: Number(opt('positions', '1024')),
    gen: Number(opt('gen', '16')),
  };
  if (argv.includes('--child')) {
    console.log(JSON.stringify(await child(model, o)));
  } else {
    const m = await measurePeakMemory(model, o);
    const mb = (b: number) => `${(b / MB).toFixed(0)} MB`;
    console.log(
      `${model}: peak RSS ${mb(m.peakRssBytes)} (before load ${mb(m.baseRssBytes)}, after ${mb(m.loadedRssBytes)}), weights ${mb(m.weightBytes)}, KV ${mb(m.kvBytes)}, ` +
        `file ${mb(m.fileBytes)}, load ${m.loadMs.toFixed(0)} ms; peak_mem/weights=${m.ratio.toFixed(2)}`,
    );
  }
}
