// Native llama.cpp (node-llama-cpp's prebuilt CPU build) on the same model and prompt, with at most
// the same thread count: the physical bar for a CPU engine. Prefill: one batched evaluation of the
// prompt; decode: greedy steps one token at a time. Set up once, then measured round by round between
// the other engines.
//
// Speeds come from llama.cpp's own timings (llama_perf_context: prompt eval time, eval time), as
// wllama's come from llama-server's. Timing node-llama-cpp's token iterator instead also counts its
// per-token JavaScript round trips (a decode and a sampling call, each through a libuv worker and a
// promise): about 0.6 ms a token on a quiet machine and several ms on a loaded one, which measured
// native decode at 70% or less of llama.cpp's own figure.
import type { Token } from 'node-llama-cpp';
import { LlamaLogLevel } from 'node-llama-cpp';
import type { LlamaRuntime } from '../reference/llama-runtime.ts';

export interface NativeRound {
  readonly prefill: number;
  readonly decode: number;
  /** Threads of the context each figure came from. */
  readonly prefillThreads: number;
  readonly decodeThreads: number;
}

export interface NativeBench {
  round(): Promise<NativeRound>;
  dispose(): Promise<void>;
}

interface PerfCounts {
  promptMs: number;
  promptTokens: number;
  evalMs: number;
  evalRuns: number;
}

/** The two figures of llama_perf_context_print (both lines are printed on every call). */
function parsePerf(lines: readonly string[]): PerfCounts {
  const text = lines.join('\n');
  const p = /prompt eval time\s*=\s*([\d.]+) ms\s*\/\s*(\d+) tokens/.exec(text);
  const e = /(?<!prompt )eval time\s*=\s*([\d.]+) ms\s*\/\s*(\d+) runs/.exec(text);
  if (!p || !e) throw new Error(`native bench: llama.cpp printed no timings (got ${JSON.stringify(text.slice(0, 300))}); node-llama-cpp's log format changed?`);
  return { promptMs: Number(p[1]), promptTokens: Number(p[2]), evalMs: Number(e[1]), evalRuns: Number(e[2]) };
}

/** One context on `threads` threads; round() gives llama.cpp's own prefill and decode tokens/s. */
async function nativeContext(runtime: LlamaRuntime, modelPath: string, promptTokens: number[], genTokens: number, threads: number) {
  const llama = await runtime.instance();
  const model = await runtime.model(modelPath);
  const context = await model.createContext({
    contextSize: 1024,
    sequences: 1,
    threads: { ideal: threads, min: threads },
    flashAttention: false,
    batchSize: 512,
    performanceTracking: true,
  });
  const sequence = context.getSequence();

  /** Prints (and so resets) llama.cpp's counters, with the log level opened for the one call. */
  const perf = async (): Promise<PerfCounts | undefined> => {
    const level = llama.logLevel,
      logger = llama.logger;
    const lines: string[] = [];
    llama.logLevel = LlamaLogLevel.info;
    llama.logger = (l, message) => {
      if (/llama_perf_context_print/.test(message)) lines.push(message);
      else if (l === LlamaLogLevel.error || l === LlamaLogLevel.fatal) logger(l, message);
    };
    try {
      await context.printTimings();
      for (let i = 0; i < 20 && !lines.some((x) => /(?<!prompt )eval time/.test(x)); i++) await new Promise((r) => setTimeout(r, 5));
    } finally {
      llama.logLevel = level;
      llama.logger = logger;
    }
    return lines.length ? parsePerf(lines) : undefined;
  };

  return {
    async round(): Promise<{ prefill: number; decode: number }> {
      await sequence.clearHistory();
      await perf(); // reset
      await sequence.evaluateWithoutGeneratingNewTokens(promptTokens.slice(0, -1) as Token[]);
      // The last prompt token starts generation: genTokens + 1 single-token decodes in all.
      let n = 0;
      for await (const _ of sequence.evaluate([promptTokens.at(-1)! as Token], { temperature: 0 })) {
        if (++n > genTokens) break;
      }
      const t = await perf();
      if (t === undefined) throw new Error('native bench: llama.cpp printed no timings (performanceTracking off?)');
      return { prefill: t.promptTokens / (t.promptMs / 1000), decode: t.evalRuns / (t.evalMs / 1000) };
    },
    dispose: () => context.dispose(),
  };
}

/**
 * llama.cpp at its best on this machine with up to `threads` threads: each round measures a 1-thread
 * and a `threads`-thread context and keeps the faster figure of each kind. node-llama-cpp attaches no
 * thread pool to its contexts, so llama.cpp starts and joins a fresh one for every evaluation; for
 * single-token decode on 2 cores that made 2 threads measure about 60-100 tok/s where 1 thread gives
 * about 220 (llama.cpp's own tools keep a pool alive and reach about 290 with 2).
 */
export async function nativeSetup(runtime: LlamaRuntime, modelPath: string, promptTokens: number[], genTokens: number, threads: number): Promise<NativeBench> {
  const counts = [...new Set([1, threads])];
  const contexts: { threads: number; ctx: Awaited<ReturnType<typeof nativeContext>> }[] = [];
  for (const t of counts) contexts.push({ threads: t, ctx: await nativeContext(runtime, modelPath, promptTokens, genTokens, t) });
  return {
    async round() {
      let best: NativeRound = { prefill: 0, decode: 0, prefillThreads: 0, decodeThreads: 0 };
      for (const { threads: t, ctx } of contexts) {
        const r = await ctx.round();
        if (r.prefill > best.prefill) best = { ...best, prefill: r.prefill, prefillThreads: t };
        if (r.decode > best.decode) best = { ...best, decode: r.decode, decodeThreads: t };
      }
      return best;
    },
    async dispose() {
      for (const { ctx } of contexts) await ctx.dispose();
    },
  };
}
