// Where a forward pass's time goes on the 'cpu' backend (not a test): the engine's ops timed one by
// one (each kernel call wrapped in a timer) over a decode run and a prefill, best of several runs, on
// the benchmark model by default. Thread CPU time is not separable per op, so these are wall times:
// run it on a quiet machine, or compare best-of-N figures only.
//   node tools/bench/op-profile.ts [--model path] [--threads 2] [--gen 64] [--prompt 100] [--runs 5] [--clock cpu|wall]
// --untimed runs the same passes without the per-op timers (for an outside profiler: perf record).
import { fileSource } from '../../src/engine/file-source.ts';
import { openModel } from '../../src/engine/model.ts';
import { openPipeline } from '../../src/engine/pipeline.ts';
import { Sampler } from '../../src/engine/sampler.ts';
import { createInferenceSession } from '../../src/engine/session.ts';
import type { Kernels } from '../../src/kernels/types.ts';
import { createWasmKernels } from '../../src/kernels/wasm/index.ts';
import { ensureModel } from '../models/registry.ts';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const THREADS = Number(opt('threads', '2'));
const GEN = Number(opt('gen', '64'));
const PROMPT = Number(opt('prompt', '100'));
const RUNS = Number(opt('runs', '5'));

/** CPU time of this process in ms: unlike wall time, barely moved by other processes' load (but it counts every thread's spinning). */
const now =
  opt('clock', 'cpu') === 'wall'
    ? () => performance.now()
    : () => {
        const u = process.cpuUsage();
        return (u.user + u.system) / 1000;
      };
const times = new Map<string, number>();
function timed(k: Kernels): Kernels {
  const wrapped: Record<string, unknown> = { ...k };
  for (const [name, fn] of Object.entries(k)) {
    if (typeof fn !== 'function') continue;
    wrapped[name] = (...a: unknown[]) => {
      const label = name === 'matmul' ? `matmul ${(a[2] as { name: string }).name.replace(/^blk\.\d+\./, '')} n=${a[3] === 1 ? 1 : 'N'}` : name;
      const t0 = now();
      const r = (fn as (...x: unknown[]) => unknown)(...a);
      times.set(label, (times.get(label) ?? 0) + now() - t0);
      return r;
    };
  }
  return wrapped as unknown as Kernels;
}

const path = opt('model', '') || (await ensureModel('bench-llama-q8_0'));
const source = await fileSource(path);
const model = await openModel(source);
const raw = await createWasmKernels({ threads: THREADS });
const pipeline = await openPipeline(model, undefined, { kernels: args.includes('--untimed') ? raw : timed(raw) });
const vocab = model.config.nVocab;
const prompt = Array.from({ length: PROMPT }, (_, i) => (i * 7919 + 1) % vocab);

type Phase = { total: number; ops: Map<string, number> };
const best: Record<'prefill' | 'decode', Phase | undefined> = { prefill: undefined, decode: undefined };
for (let run = 0; run < RUNS; run++) {
  // As bench:engine runs it: the prompt's last logits only, then greedy decoding.
  const s = createInferenceSession(pipeline, model.config.nEmbd, vocab, { maxPositions: PROMPT + GEN + 1 });
  times.clear();
  let t0 = now();
  let logits = await s.extend(prompt, { logits: 'last' });
  keep('prefill', now() - t0);
  const sampler = new Sampler({ temperature: 0 });
  let sampleMs = 0;
  t0 = now();
  for (let i = 0; i < GEN; i++) {
    const ts = now();
    const tok = sampler.sample(logits);
    sampleMs += now() - ts;
    logits = await s.extend([tok], { logits: 'last' });
  }
  times.set('sample', sampleMs);
  keep('decode', now() - t0);
  s.free();
}
raw.dispose();
await source.close();

function keep(phase: 'prefill' | 'decode', total: number): void {
  if (!best[phase] || total < best[phase].total) best[phase] = { total, ops: new Map(times) };
  times.clear();
}

for (const phase of ['prefill', 'decode'] as const) {
  const p = best[phase];
  if (!p) continue;
  const tokens = phase === 'prefill' ? PROMPT : GEN;
  console.log(`${phase}: ${(p.total / tokens).toFixed(3)} ms/token (${((tokens * 1000) / p.total).toFixed(0)} tok/s), best of ${RUNS}`);
  const sum = [...p.ops.values()].reduce((a, b) => a + b, 0);
  const rows = [...p.ops.entries(), ['(outside ops)', p.total - sum] as [string, number]].sort((a, b) => b[1] - a[1]);
  for (const [name, ms] of rows)
    console.log(`  ${name.padEnd(28)} ${((ms / tokens) * 1000).toFixed(1).padStart(8)} µs/token ${((100 * ms) / p.total).toFixed(1).padStart(5)}%`);
}
