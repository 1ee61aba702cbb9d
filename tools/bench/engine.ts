// `npm run bench:engine`: prefill and decode tokens/s, in one run and with the same thread count, of
// our CPU backend in the inference worker in headless Chromium, of @wllama/wllama in Chromium and of
// native llama.cpp (node-llama-cpp), on the benchmark models (Q8_0, then F16) and a model of
// Qwen2.5-0.5B-Instruct's shapes in Q4_K_M, beside the machine's memory bandwidth and the WASM SIMD
// matmul roofline. Then each engine's peak memory, and our load speed from the weight cache to ready
// (a second load in the worker). The last lines are the summaries, the real-shaped model's and Q8_0's:
//   engine-0.5b: decode ours/wllama=… prefill ours/wllama=… decode ours/native=… prefill ours/native=… peak_mem/weights=… load_mb_s=…
//   engine: decode ours/wllama=X prefill ours/wllama=Y decode ours/native=Z prefill ours/native=W
// The three engines stay loaded and are measured in interleaved rounds (after a warm-up round), so a
// shared machine's changing load hits all of them alike; figures are medians over rounds, ratios the
// medians of the per-round ratios. wllama and native report llama.cpp's own timings (no JavaScript
// per token); ours is timed on the page, worker messages and sampling included. Native is the best
// of 1 thread and --threads (see native.ts: node-llama-cpp's per-call thread pool makes 2-thread
// decode slower than 1-thread decode on a 2-core machine). Each measurement
// waits briefly for a quiet moment and records how many cores other processes kept busy meanwhile:
// rounds beside noticeable load are left out when 3 quiet ones remain, and a loaded run is flagged
// (llama.cpp's spinning thread barriers make it suffer far more from load than our thread pool).
// peak_mem/weights = (peak memory − 100 MB) ÷ (weight bytes + KV cache bytes), ours in the tab's worker.
// Models over 200 MB run --big-runs rounds of --big-gen tokens (a wllama round of the 0.5B takes ~20 s).
// Options: --runs 5 --gen 64 --big-runs 3 --big-gen 32 --threads 2 --webgpu (also on a fallback adapter)
//   --model <name or path> (that model only) or --models a,b,c (test model names or GGUF paths)
import { existsSync, linkSync, mkdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { chromiumLaunchOptions } from '../../playwright/support/browser.ts';
import { benchRound, benchSetup, benchTeardown } from '../../playwright/support/engine-page.ts';
import { startEngineTestServer } from '../../playwright/support/engine-server.ts';
import { MODELS as MODELS_DIR } from '../../playwright/support/vite-test-server.ts';
import { startWllamaServer } from '../../playwright/support/wllama-server.ts';
import { fileSource } from '../../src/engine/file-source.ts';
import { readGgufHeader } from '../../src/gguf/reader.ts';
import { Tokenizer } from '../../src/tokenizer/tokenizer.ts';
import { ensureModel } from '../models/registry.ts';
import { LlamaRuntime } from '../reference/llama-runtime.ts';
import { nativeSetup, type NativeRound } from './native.ts';
import { copyBandwidth, cpuSample, otherCores, waitForQuiet } from './measure.ts';
import { wasmRoofline } from './roofline.ts';
import { MB, measurePeakMemory } from './peak-memory.ts';
import { newRenderers, peakRss, rendererPids } from './process-memory.ts';
import { median, speedOf, type Speed } from './stats.ts';
import { partialUtf8Tokens, wllamaRound, wllamaSetup, wllamaTeardown } from './wllama.ts';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const RUNS = Number(opt('runs', '5'));
const GEN = Number(opt('gen', '64'));
const BIG_RUNS = Number(opt('big-runs', '3'));
const BIG_GEN = Number(opt('big-gen', '32'));
const THREADS = Number(opt('threads', '2'));
const REAL_SHAPED = 'qwen2.5-0.5b-shape-q4_k_m';
const MODELS = args.includes('--model') ? [opt('model', '')] : opt('models', `bench-llama-q8_0,bench-llama-f16,${REAL_SHAPED}`).split(',');
/** Models over this size are measured in fewer, shorter rounds. */
const BIG_BYTES = 200 * MB;
/** Positions of every engine's context (ours: benchSetup's maxPositions; wllama and native: n_ctx). */
const POSITIONS = 1024;
const FORCE_WEBGPU = args.includes('--webgpu');
/** Cores of other processes' load above which a round counts as loaded. */
const BUSY_WARN = 0.2;
/** How long each measurement may wait for the machine to quieten down first. */
const QUIET_WAIT_MS = 5000;

/** About 100 tokens of plain prose for the prefill. */
const PROMPT =
  'The old lighthouse keeper climbed the spiral stairs every evening, counting the steps as his father ' +
  'had taught him, and at the top he trimmed the wick, polished the great lens and watched the ships pass ' +
  'along the rocky coast. In winter the storms came from the north, and the waves broke over the harbour wall ' +
  'while the village slept; in summer the children of the fishermen ran along the beach looking for shells, ' +
  'and the keeper told them stories about the sea.';

/** Where a long run is, on stderr (a 0.5B model's rounds take minutes on a loaded machine). */
function progress(what: string): void {
  process.stderr.write(`[bench:engine ${new Date().toISOString().slice(11, 19)}] ${what}\n`);
}

/** The prompt's tokens, and the tokens wllama must not emit (partial UTF-8) in this model's vocabulary. */
async function tokensOf(modelPath: string): Promise<{ prompt: number[]; banned: number[] }> {
  const source = await fileSource(modelPath);
  try {
    const tokenizer = Tokenizer.fromMetadata((await readGgufHeader(source)).metadata);
    return { prompt: tokenizer.tokenize(PROMPT, { addSpecial: true, parseSpecial: false }), banned: partialUtf8Tokens(tokenizer) };
  } finally {
    await source.close();
  }
}

interface BenchModel {
  readonly name: string;
  readonly path: string;
  /** Where the test servers serve it: /models/<file> from .cache/models. */
  readonly url: string;
}

/** A test model by name (generated on first use), or a GGUF path, linked into .cache/models to be served. */
async function benchModel(m: string): Promise<BenchModel> {
  if (!existsSync(m)) return { name: m, path: await ensureModel(m), url: `/models/${m}.gguf` };
  const path = resolve(m);
  const name = basename(path).replace(/\.gguf$/i, '');
  if (dirname(path) === resolve(MODELS_DIR)) return { name, path, url: `/models/${basename(path)}` };
  const file = `bench-path-${name.replace(/[^\w.-]/g, '_')}.gguf`;
  mkdirSync(MODELS_DIR, { recursive: true });
  rmSync(join(MODELS_DIR, file), { force: true });
  try {
    linkSync(path, join(MODELS_DIR, file)); // served like a generated model, no copy
  } catch {
    symlinkSync(path, join(MODELS_DIR, file)); // another file system
  }
  return { name, path, url: `/models/${file}` };
}

interface Row {
  name: string;
  speed: Speed | undefined;
  threads?: number;
  note?: string;
}

async function webGpuRow(page: Page, modelUrl: string, tokens: number[], runs: number): Promise<Row> {
  const adapter = await page.evaluate(async () => {
    const gpu = (navigator as { gpu?: { requestAdapter(): Promise<{ info?: { isFallbackAdapter?: boolean; description?: string; vendor?: string } } | null> } })
      .gpu;
    const a = gpu ? await gpu.requestAdapter() : null;
    return a ? { fallback: a.info?.isFallbackAdapter === true, name: a.info?.description || a.info?.vendor || 'unknown' } : null;
  });
  if (!adapter) return { name: 'ours WebGPU', speed: undefined, note: 'skipped: no WebGPU adapter in this browser' };
  if (adapter.fallback && !FORCE_WEBGPU)
    return { name: 'ours WebGPU', speed: undefined, note: `skipped: only a fallback adapter (${adapter.name}, a CPU rasteriser; --webgpu runs it anyway)` };
  try {
    await benchSetup(page, { modelUrl, threads: 1, backend: 'webgpu' });
    const rounds = [];
    for (let r = 0; r < runs + 1; r++) rounds.push(await benchRound(page, tokens, GEN));
    await benchTeardown(page);
    rounds.shift();
    return {
      name: 'ours WebGPU',
      speed: speedOf(
        rounds.map((x) => x.prefill),
        rounds.map((x) => x.decode),
      ),
      note: adapter.name,
    };
  } catch (e) {
    return { name: 'ours WebGPU', speed: undefined, note: `failed: ${(e as Error).message.split('\n')[0]}` };
  }
}

/** The most frequent value (thread counts across rounds), e.g. "1" or "2 (1 in 2 rounds)". */
function mostly(xs: number[]): string {
  const counts = new Map<number, number>();
  for (const x of xs) counts.set(x, (counts.get(x) ?? 0) + 1);
  const sorted = [...counts].sort((a, b) => b[1] - a[1]);
  return sorted.length <= 1
    ? String(sorted[0]?.[0] ?? '?')
    : `${sorted[0][0]} (${sorted
        .slice(1)
        .map(([v, c]) => `${v} in ${c}`)
        .join(', ')} of ${xs.length} rounds)`;
}

const f = (x: number | undefined, w = 9) => (x === undefined || Number.isNaN(x) ? '—' : x.toFixed(1)).padStart(w);

async function main(): Promise<void> {
  const models: BenchModel[] = [];
  for (const m of MODELS) models.push(await benchModel(m));
  console.log(
    `engine benchmark: ${RUNS} runs (median) after a warm-up, ${GEN} decoded tokens (models over ${BIG_BYTES / MB} MB: ${BIG_RUNS} runs, ${BIG_GEN} tokens), ${THREADS} threads everywhere`,
  );
  console.log('(the machine may be shared and loaded: compare ratios from one run, not figures across runs)');
  const bw = copyBandwidth();
  console.log(`memory bandwidth (256 MiB copy, read+write): ${bw.toFixed(1)} GB/s`);

  const engineServer = await startEngineTestServer(true);
  const wllamaServer = await startWllamaServer();
  const runtime = new LlamaRuntime({ cpuVariant: 'best' }); // the native bar: llama.cpp at its fastest on this CPU
  let browser: Browser | undefined;
  const summary = new Map<string, Ratios>();
  const memory = new Map<string, MemoryRow>();
  try {
    browser = await chromium.launch(chromiumLaunchOptions());
    for (const { name, path, url: modelUrl } of models) {
      const big = statSync(path).size > BIG_BYTES;
      const runs = big ? BIG_RUNS : RUNS;
      const gen = big ? BIG_GEN : GEN;
      const { prompt: tokens, banned } = await tokensOf(path);
      await waitForQuiet(BUSY_WARN, QUIET_WAIT_MS);
      const roofStart = cpuSample();
      progress(`${name}: WASM matmul roofline`);
      const roof = await wasmRoofline(path, THREADS, tokens.length);
      const roofLoad = otherCores(roofStart, cpuSample());

      const beforeOurs = rendererPids();
      const oursContext = await browser.newContext(); // its pages share one weight cache
      const page = await oursContext.newPage();
      await page.goto(`${engineServer.base}/playwright/support/engine-blank.html`);
      progress(`${name}: loading ours, wllama, native`);
      const ours = await benchSetup(page, { modelUrl, threads: THREADS });
      const oursRenderers = newRenderers(beforeOurs);
      const beforeWllama = rendererPids();
      const wpage = await browser.newPage();
      await wpage.goto(`${wllamaServer.url}/`);
      const wl = await wllamaSetup(wpage, modelUrl, THREADS);
      const wllamaRenderers = newRenderers(beforeWllama);
      const native = await nativeSetup(runtime, path, tokens, gen, THREADS);
      type Round = { prefill: number; decode: number; other: number };
      type Rounds = { ours: Round; wllama: Round; native: Round & NativeRound }[];
      const allRounds: Rounds = [];
      let wllamaPrompt = 0;
      let cached: { startMs: number; loadMs: number; peak: number | undefined } = { startMs: Number.NaN, loadMs: Number.NaN, peak: undefined };
      // Each measurement waits a little for a quiet moment and records the cores other processes kept busy meanwhile.
      const watched = async <T extends object>(f: () => Promise<T>): Promise<T & { other: number }> => {
        await waitForQuiet(BUSY_WARN, QUIET_WAIT_MS);
        const a = cpuSample();
        const v = await f();
        return { ...v, other: otherCores(a, cpuSample()) };
      };
      try {
        for (let r = 0; r < runs + 1; r++) {
          progress(`${name}: round ${r} of ${runs}${r === 0 ? ' (warm-up)' : ''}`);
          const o = await watched(() => benchRound(page, tokens, gen));
          const w = await watched(() => wllamaRound(wpage, PROMPT, gen, banned));
          wllamaPrompt = w.promptTokens;
          const n = await watched(() => native.round());
          if (r > 0) allRounds.push({ ours: o, wllama: w, native: n }); // round 0 warms up (JIT, weights into WASM memory)
        }
        progress(`${name}: ours from the weight cache, in a fresh page`);
        cached = await fromCache(oursContext, engineServer.base, modelUrl, tokens, gen);
      } finally {
        progress(`${name}: peak memory`);
        memory.set(name, await memoryRow(path, cached.peak ?? peakRss(oursRenderers), peakRss(wllamaRenderers), cached.loadMs));
        await benchTeardown(page);
        await wllamaTeardown(wpage);
        await wpage.close();
        await native.dispose();
      }
      // Rounds in which some engine ran beside noticeable load are left out when at least 3 others remain.
      const quiet = allRounds.filter((r) => !(Math.max(r.ours.other, r.wllama.other, r.native.other) > BUSY_WARN));
      const rounds = quiet.length >= 3 ? quiet : allRounds;
      const nativeRounds = rounds.map((r) => r.native);
      const speedFor = (k: 'ours' | 'wllama' | 'native') =>
        speedOf(
          rounds.map((r) => r[k].prefill),
          rounds.map((r) => r[k].decode),
        );
      const rows: Row[] = [
        {
          name: 'WASM SIMD matmul roofline',
          speed: speedOf([roof.prefill], [roof.decode]),
          threads: THREADS,
          note: `matmuls only, in Node; decode streams ${(roof.weightBytes / 2 ** 20).toFixed(1)} MiB of weights at ${roof.decodeGBs.toFixed(1)} GB/s (${((100 * roof.decodeGBs) / bw).toFixed(0)}% of copy bandwidth)${roofLoad > BUSY_WARN ? `; measured beside ${roofLoad.toFixed(2)} cores of other load` : ''}`,
        },
        {
          name: 'ours CPU (worker, Chromium)',
          speed: speedFor('ours'),
          threads: ours.threads,
          note: `load ${ours.loadMs.toFixed(0)} ms over HTTP into the weight cache, ${cached.loadMs.toFixed(0)} ms from it (after the worker's start, ${cached.startMs.toFixed(0)} ms)`,
        },
        { name: 'wllama (Chromium)', speed: speedFor('wllama'), threads: wl.threads, note: `${wllamaPrompt} prompt tokens; llama-server's own timings` },
        {
          name: 'native llama.cpp (node-llama-cpp)',
          speed: speedFor('native'),
          threads: THREADS,
          note: `llama.cpp's own timings; best of 1 and ${THREADS} threads (prefill on ${mostly(nativeRounds.map((r) => r.prefillThreads))}, decode on ${mostly(nativeRounds.map((r) => r.decodeThreads))})`,
        },
      ];
      rows.push(await webGpuRow(page, modelUrl, tokens, runs));
      await oursContext.close();

      console.log(`\n${name}: prompt ${tokens.length} tokens, ${gen} decoded, ${rounds.length} interleaved rounds`);
      console.log(`${'engine'.padEnd(36)} thr  prefill tok/s  decode tok/s  notes`);
      for (const r of rows) {
        console.log(`${r.name.padEnd(36)} ${String(r.threads ?? '').padStart(3)}  ${f(r.speed?.prefill, 13)}  ${f(r.speed?.decode, 12)}  ${r.note ?? ''}`);
      }
      const paired = (k: 'wllama' | 'native', m: 'prefill' | 'decode') => median(rounds.map((r) => r.ours[m] / r[k][m]));
      const ratios: Ratios = {
        dw: paired('wllama', 'decode'),
        pw: paired('wllama', 'prefill'),
        dn: paired('native', 'decode'),
        pn: paired('native', 'prefill'),
      };
      summary.set(name, ratios);
      const perRound = (k: 'ours' | 'wllama' | 'native') => allRounds.map((r) => `${r[k].decode.toFixed(0)}${quiet.includes(r) ? '' : '*'}`).join(' ');
      console.log(`per-round decode tok/s (* loaded)  ours: ${perRound('ours')}  wllama: ${perRound('wllama')}  native: ${perRound('native')}`);
      const busy = (k: 'ours' | 'wllama' | 'native') => median(rounds.map((r) => r[k].other));
      const worst = Math.max(...rounds.flatMap((r) => [r.ours.other, r.wllama.other, r.native.other]));
      console.log(
        `other processes' load while each engine ran (cores, median)  ours: ${busy('ours').toFixed(2)}  wllama: ${busy('wllama').toFixed(2)}  native: ${busy('native').toFixed(2)}` +
          `; ${rounds === quiet ? `${quiet.length} of ${allRounds.length} rounds quiet (under ${BUSY_WARN} cores), only they count` : `only ${quiet.length} of ${allRounds.length} rounds quiet, all count`}`,
      );
      if (worst > BUSY_WARN) {
        console.log(
          `warning: other processes kept up to ${worst.toFixed(2)} cores busy during the rounds; llama.cpp (native and wllama) waits at` +
            ' spinning barriers for every thread, so a descheduled thread stalls it and its figures drop most: rerun on a quiet machine',
        );
      }
      console.log(`ratios (median of per-round ratios): ${line(ratios)}`);
      printMemory(memory.get(name)!);
    }
  } finally {
    await browser?.close();
    await engineServer.close();
    await wllamaServer.close();
    await runtime.dispose();
  }
  const real = models.find((m) => m.name === REAL_SHAPED);
  if (real) {
    const mem = memory.get(real.name)!;
    const loadMbS = mem.fileBytes / MB / (mem.cachedLoadMs / 1000);
    console.log(`engine-0.5b: ${line(summary.get(real.name)!)} peak_mem/weights=${mem.oursWorkerRatio.toFixed(2)} load_mb_s=${loadMbS.toFixed(0)}`);
  }
  const q8 = summary.get(models.find((m) => /q8_0/.test(m.name))?.name ?? models[0].name)!;
  console.log(`engine: ${line(q8)}`);
}

/**
 * Ours from the weight cache: a fresh page in the context whose first page filled the cache loads the
 * model (the load time is cache to ready: load() in a started worker, the kernels' start included; the
 * worker's own start, its script's modules served one by one by the Vite dev server, is reported apart)
 * and runs one round; its renderer's peak (VmHWM) is what our engine needs in a tab. undefined where
 * Chromium gave the page an existing renderer.
 */
async function fromCache(
  context: BrowserContext,
  base: string,
  modelUrl: string,
  tokens: number[],
  gen: number,
): Promise<{ startMs: number; loadMs: number; peak: number | undefined }> {
  const before = rendererPids();
  const fresh = await context.newPage();
  try {
    await fresh.goto(`${base}/playwright/support/engine-blank.html`);
    const { startMs, loadMs } = await benchSetup(fresh, { modelUrl, threads: THREADS });
    await benchRound(fresh, tokens, gen);
    const peak = peakRss(newRenderers(before));
    await benchTeardown(fresh);
    return { startMs, loadMs, peak };
  } finally {
    await fresh.close();
  }
}

interface MemoryRow {
  readonly fileBytes: number;
  readonly weightBytes: number;
  /** Our f32 KV cache at POSITIONS positions. */
  readonly kvBytes: number;
  readonly oursWorker: number | undefined;
  readonly oursWorkerRatio: number;
  readonly oursNode: number;
  readonly wllama: number | undefined;
  readonly native: number;
  readonly cachedLoadMs: number;
}

/** Peak memory of each engine: ours and wllama from their renderers' VmHWM, ours and native in a fresh Node process. */
async function memoryRow(path: string, oursWorker: number | undefined, wllama: number | undefined, cachedLoadMs: number): Promise<MemoryRow> {
  const node = await measurePeakMemory(path, { backend: 'cpu', threads: THREADS, positions: POSITIONS });
  const native = await measurePeakMemory(path, { engine: 'native', threads: 1, positions: POSITIONS });
  const fit = node.weightBytes + node.kvBytes;
  return {
    fileBytes: node.fileBytes,
    weightBytes: node.weightBytes,
    kvBytes: node.kvBytes,
    oursWorker,
    oursWorkerRatio: oursWorker === undefined ? Number.NaN : (oursWorker - 100 * MB) / fit,
    oursNode: node.peakRssBytes,
    wllama,
    native: native.peakRssBytes,
    cachedLoadMs,
  };
}

function printMemory(m: MemoryRow): void {
  const mb = (b: number | undefined) => (b === undefined ? '—' : `${(b / MB).toFixed(0)} MB`);
  const ratio = (b: number | undefined) => (b === undefined ? '—' : ((b - 100 * MB) / (m.weightBytes + m.kvBytes)).toFixed(2));
  console.log(
    `peak memory (weights ${mb(m.weightBytes)}, our f32 KV cache at ${POSITIONS} positions ${mb(m.kvBytes)}; (peak − 100 MB) ÷ (weights + KV) in brackets):` +
      ` ours in the worker's renderer ${mb(m.oursWorker)} [${ratio(m.oursWorker)}], ours in Node ${mb(m.oursNode)} [${ratio(m.oursNode)}],` +
      ` wllama's renderer ${mb(m.wllama)} [${ratio(m.wllama)}], native in Node ${mb(m.native)} [${ratio(m.native)}];` +
      ` ours loads from the weight cache at ${(m.fileBytes / MB / (m.cachedLoadMs / 1000)).toFixed(0)} MB/s`,
  );
}

interface Ratios {
  dw: number;
  pw: number;
  dn: number;
  pn: number;
}

function line(r: Ratios): string {
  return `decode ours/wllama=${r.dw.toFixed(2)} prefill ours/wllama=${r.pw.toFixed(2)} decode ours/native=${r.dn.toFixed(2)} prefill ours/native=${r.pn.toFixed(2)}`;
}

await main();
