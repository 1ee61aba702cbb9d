// Drives the inference worker inside a served page (through src/engine/worker-client.ts, as the app
// does) and returns plain JSON: what the parity spec compares with llama.cpp and the benchmark times.
import type { Page } from 'playwright-core';

export interface PageScoreOptions {
  readonly modelUrl: string;
  readonly prompt: string;
  readonly topK: number;
  readonly greedySteps: number;
  readonly threads?: number;
}

export interface PageScore {
  readonly crossOriginIsolated: boolean;
  readonly backend: string;
  readonly threads: number;
  readonly progressEvents: number;
  readonly lastProgress: { phase: string; bytesLoaded: number; bytesTotal?: number };
  readonly promptTokens: number[];
  readonly positions: { id: number; logprob: number }[][];
  readonly greedy: number[];
  readonly badModel: { name: string; code?: string; message: string };
  readonly afterBad: number;
  readonly aborted: string;
}

export async function scoreInWorker(page: Page, o: PageScoreOptions): Promise<PageScore> {
  return page.evaluate(async (o) => {
    const clientUrl = '/src/engine/worker-client.ts'; // a variable: Vite serves it at run time
    const { WorkerEngine } = await import(clientUrl);
    const progress: { phase: string; bytesLoaded: number; bytesTotal?: number }[] = [];
    const engine = await WorkerEngine.load(o.modelUrl, { threads: o.threads, onProgress: (p: (typeof progress)[0]) => progress.push(p) });
    const promptTokens: number[] = await engine.tokenize(o.prompt);
    const positions = await engine.logits(promptTokens, o.topK);
    const greedy: number[] = [];
    for await (const ev of engine.generate({ promptTokens, maxTokens: o.greedySteps, sampling: { temperature: 0 } }))
      if (ev.type === 'token') greedy.push(ev.token);
    // A corrupt file: a coded error, then the same worker loads and runs the real model again.
    let badModel = { name: '', code: undefined as string | undefined, message: '' };
    try {
      await engine.load(new TextEncoder().encode('GGUF but not really a model file at all').buffer);
    } catch (e) {
      badModel = { name: (e as Error).name, code: (e as { code?: string }).code, message: (e as Error).message };
    }
    await engine.load(o.modelUrl, { threads: o.threads });
    const afterBad = (await engine.logits(promptTokens, 1)).length;
    const controller = new AbortController();
    let aborted = '';
    try {
      let n = 0;
      for await (const ev of engine.generate({ promptTokens, maxTokens: 500, sampling: { temperature: 0 }, signal: controller.signal })) {
        if (ev.type === 'token' && ++n === 2) controller.abort();
      }
    } catch (e) {
      aborted = (e as Error).name;
    }
    const info = engine.info;
    engine.terminate();
    return {
      crossOriginIsolated,
      backend: info.backend,
      threads: info.threads,
      progressEvents: progress.length,
      lastProgress: progress.at(-1)!,
      promptTokens,
      positions,
      greedy,
      badModel,
      afterBad,
      aborted,
    };
  }, o);
}

export interface PageBenchOptions {
  readonly modelUrl: string;
  readonly threads: number;
  readonly backend?: 'cpu' | 'webgpu';
}

export interface PageBenchSetup {
  readonly threads: number;
  readonly backend: string;
  /** The worker's start: its script's modules (served one by one by the test's Vite dev server) until it answers. */
  readonly startMs: number;
  /** load() in the started worker: the kernels' start, the header and every weight, until ready. */
  readonly loadMs: number;
}

/** Loads a model into an inference worker kept on the page for benchRound(). */
export async function benchSetup(page: Page, o: PageBenchOptions): Promise<PageBenchSetup> {
  return page.evaluate(async (o) => {
    const clientUrl = '/src/engine/worker-client.ts';
    const { WorkerEngine } = await import(clientUrl);
    const t0 = performance.now();
    const engine = await WorkerEngine.create();
    const t1 = performance.now();
    try {
      await engine.load(o.modelUrl, { backend: o.backend ?? 'cpu', threads: o.threads, maxPositions: 1024 });
    } catch (e) {
      engine.terminate();
      throw e;
    }
    (globalThis as { benchEngine?: unknown }).benchEngine = engine;
    return { threads: engine.info.threads, backend: engine.info.backend, startMs: t1 - t0, loadMs: performance.now() - t1 };
  }, o);
}

/**
 * One measurement. Prefill: one batched extend of the prompt in a fresh session. Decode: a greedy
 * generation (sampling and streaming to the page included), tokens/s from its first to last token.
 */
export async function benchRound(page: Page, promptTokens: number[], genTokens: number): Promise<{ prefill: number; decode: number }> {
  return page.evaluate(
    async (o) => {
      type Session = { extend(t: number[], x: object): Promise<Float32Array>; free(): Promise<void> };
      const engine = (globalThis as { benchEngine?: unknown }).benchEngine as {
        createSession(): Promise<Session>;
        generate(r: object): AsyncIterable<{ type: string }>;
      };
      const s = await engine.createSession();
      const a = performance.now();
      await s.extend(o.promptTokens, { logits: 'last' });
      const prefill = o.promptTokens.length / ((performance.now() - a) / 1000);
      await s.free();
      let first = 0,
        last = 0,
        n = 0;
      for await (const ev of engine.generate({ promptTokens: o.promptTokens, maxTokens: o.genTokens + 1, sampling: { temperature: 0 } })) {
        if (ev.type !== 'token') continue;
        if (n++ === 0) first = performance.now();
        last = performance.now();
      }
      if (n < o.genTokens + 1) throw new Error(`generation stopped after ${n} tokens`);
      return { prefill, decode: (n - 1) / ((last - first) / 1000) };
    },
    { promptTokens, genTokens },
  );
}

export async function benchTeardown(page: Page): Promise<void> {
  await page.evaluate(() => (globalThis as { benchEngine?: { terminate(): void } }).benchEngine?.terminate());
}
