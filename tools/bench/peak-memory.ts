// Peak memory of our engine on one model, in a fresh Node process (so its peak RSS is this model's
// alone): load, a prefill of the bench prompt, then greedy decode. Prints one JSON line:
//   { peakRssBytes, weightBytes, kvBytes, loadMs, fileBytes, ratio }
// where ratio = (peak − 100 MB) ÷ (weights + KV cache), issue 14's peak_mem/weights (goal ≤ 1.25).
// Usage: node tools/bench/peak-memory.ts <model name or path> [--backend cpu] [--threads 1] [--positions 1024] [--gen 16]
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Engine, type BackendName } from '../../src/engine/engine.ts';
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
  readonly backend?: BackendName;
  readonly threads?: number;
  readonly positions?: number;
  readonly gen?: number;
}

/** The bench's ~100-token prompt is not needed here: a fixed prompt of `prompt` tokens is. */
const PROMPT_TOKENS = 96;

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

async function child(model: string, o: Required<PeakMemoryOptions>): Promise<PeakMemory> {
  const path = existsSync(model) ? model : await ensureModel(model);
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
    const vocab = Math.min(c.nVocab, 1000);
    const prompt = Array.from({ length: PROMPT_TOKENS }, (_, i) => (i * 7919 + 13) % vocab);
    const session = engine.createSession();
    let logits = await session.extend(prompt, { logits: 'last' });
    for (let i = 0; i < o.gen; i++) {
      let best = 0;
      for (let j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
      logits = await session.extend([best], { logits: 'last' });
    }
    session.free();
    const peakRssBytes = process.resourceUsage().maxRSS * 1024;
    return {
      peakRssBytes,
      baseRssBytes,
      loadedRssBytes,
      weightBytes,
      kvBytes,
      fileBytes: statSync(path).size,
      loadMs,
      ratio: (peakRssBytes - 100 * MB) / (weightBytes + kvBytes),
    };
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
