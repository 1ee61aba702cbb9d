// `npm run bench:engine`: prefill and decode tokens/s, in one run and with the same thread count, of
// our CPU backend in the inference worker in headless Chromium, of @wllama/wllama in Chromium and of
// native llama.cpp (node-llama-cpp), on the benchmark models (Q8_0, then F16), beside the machine's
// memory bandwidth and the WASM SIMD matmul roofline. The last line is the Q8_0 summary:
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
// Options: --runs 5 --gen 64 --threads 2 --models bench-llama-q8_0,bench-llama-f16 --webgpu (also on a fallback adapter)
import { chromium, type Browser, type Page } from 'playwright-core';
import { chromiumLaunchOptions } from '../../playwright/support/browser.ts';
import { benchRound, benchSetup, benchTeardown } from '../../playwright/support/engine-page.ts';
import { startEngineTestServer } from '../../playwright/support/engine-server.ts';
import { startWllamaServer } from '../../playwright/support/wllama-server.ts';
import { fileSource } from '../../src/engine/file-source.ts';
import { readGgufHeader } from '../../src/gguf/reader.ts';
import { Tokenizer } from '../../src/tokenizer/tokenizer.ts';
import { ensureModel } from '../models/registry.ts';
import { LlamaRuntime } from '../reference/llama-runtime.ts';
import { nativeSetup, type NativeRound } from './native.ts';
import { copyBandwidth, cpuSample, otherCores, waitForQuiet } from './measure.ts';
import { wasmRoofline } from './roofline.ts';
import { median, speedOf, type Speed } from './stats.ts';
import { wllamaRound, wllamaSetup, wllamaTeardown } from './wllama.ts';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const RUNS = Number(opt('runs', '5'));
const GEN = Number(opt('gen', '64'));
const THREADS = Number(opt('threads', '2'));
const MODELS = opt('models', 'bench-llama-q8_0,bench-llama-f16').split(',');
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

async function promptTokens(modelPath: string): Promise<number[]> {
  const source = await fileSource(modelPath);
  try {
    const header = await readGgufHeader(source);
    return Tokenizer.fromMetadata(header.metadata).tokenize(PROMPT, { addSpecial: true, parseSpecial: false });
  } finally {
    await source.close();
  }
}

interface Row {
  name: string;
  speed: Speed | undefined;
  threads?: number;
  note?: string;
}

async function webGpuRow(page: Page, modelUrl: string, tokens: number[]): Promise<Row> {
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
    const runs = [];
    for (let r = 0; r < RUNS + 1; r++) runs.push(await benchRound(page, tokens, GEN));
    await benchTeardown(page);
    runs.shift();
    return {
      name: 'ours WebGPU',
      speed: speedOf(
        runs.map((x) => x.prefill),
        runs.map((x) => x.decode),
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
  const paths = new Map<string, string>();
  for (const m of MODELS) paths.set(m, await ensureModel(m));
  console.log(`engine benchmark: ${RUNS} runs (median) after a warm-up, ${GEN} decoded tokens, ${THREADS} threads everywhere`);
  console.log('(the machine may be shared and loaded: compare ratios from one run, not figures across runs)');
  const bw = copyBandwidth();
  console.log(`memory bandwidth (256 MiB copy, read+write): ${bw.toFixed(1)} GB/s`);

  const engineServer = await startEngineTestServer(true);
  const wllamaServer = await startWllamaServer();
  const runtime = new LlamaRuntime({ cpuVariant: 'best' }); // the native bar: llama.cpp at its fastest on this CPU
  let browser: Browser | undefined;
  const summary = new Map<string, Ratios>();
  try {
    browser = await chromium.launch(chromiumLaunchOptions());
    for (const name of MODELS) {
      const path = paths.get(name)!;
      const tokens = await promptTokens(path);
      await waitForQuiet(BUSY_WARN, QUIET_WAIT_MS);
      const roofStart = cpuSample();
      const roof = await wasmRoofline(path, THREADS, tokens.length);
      const roofLoad = otherCores(roofStart, cpuSample());

      const page = await browser.newPage();
      await page.goto(`${engineServer.base}/playwright/support/engine-blank.html`);
      const ours = await benchSetup(page, { modelUrl: `/models/${name}.gguf`, threads: THREADS });
      const wpage = await browser.newPage();
      await wpage.goto(`${wllamaServer.url}/`);
      const wl = await wllamaSetup(wpage, `/models/${name}.gguf`, THREADS);
      const native = await nativeSetup(runtime, path, tokens, GEN, THREADS);
      type Round = { prefill: number; decode: number; other: number };
      type Rounds = { ours: Round; wllama: Round; native: Round & NativeRound }[];
      const allRounds: Rounds = [];
      let wllamaPrompt = 0;
      // Each measurement waits a little for a quiet moment and records the cores other processes kept busy meanwhile.
      const watched = async <T extends object>(f: () => Promise<T>): Promise<T & { other: number }> => {
        await waitForQuiet(BUSY_WARN, QUIET_WAIT_MS);
        const a = cpuSample();
        const v = await f();
        return { ...v, other: otherCores(a, cpuSample()) };
      };
      try {
        for (let r = 0; r < RUNS + 1; r++) {
          const o = await watched(() => benchRound(page, tokens, GEN));
          const w = await watched(() => wllamaRound(wpage, PROMPT, GEN));
          wllamaPrompt = w.promptTokens;
          const n = await watched(() => native.round());
          if (r > 0) allRounds.push({ ours: o, wllama: w, native: n }); // round 0 warms up (JIT, weights into WASM memory)
        }
      } finally {
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
        { name: 'ours CPU (worker, Chromium)', speed: speedFor('ours'), threads: ours.threads, note: `load ${ours.loadMs.toFixed(0)} ms` },
        { name: 'wllama (Chromium)', speed: speedFor('wllama'), threads: wl.threads, note: `${wllamaPrompt} prompt tokens; llama-server's own timings` },
        {
          name: 'native llama.cpp (node-llama-cpp)',
          speed: speedFor('native'),
          threads: THREADS,
          note: `llama.cpp's own timings; best of 1 and ${THREADS} threads (prefill on ${mostly(nativeRounds.map((r) => r.prefillThreads))}, decode on ${mostly(nativeRounds.map((r) => r.decodeThreads))})`,
        },
      ];
      rows.push(await webGpuRow(page, `/models/${name}.gguf`, tokens));
      await page.close();

      console.log(`\n${name}: prompt ${tokens.length} tokens, ${GEN} decoded, ${rounds.length} interleaved rounds`);
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
    }
  } finally {
    await browser?.close();
    await engineServer.close();
    await wllamaServer.close();
    await runtime.dispose();
  }
  const q8 = summary.get(MODELS.find((m) => /q8_0/.test(m)) ?? MODELS[0])!;
  console.log(`engine: ${line(q8)}`);
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
