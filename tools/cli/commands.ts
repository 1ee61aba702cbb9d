// What `generate` and `logits` compute on an open engine, free of Node APIs: run.ts calls these in
// the CLI process, webgpu-page.ts in headless Chromium, so both backends print the same JSON.
import type { Engine, SamplingOptions } from '../../src/engine/engine.ts';

export interface GenerateResult {
  prompt_tokens: number[];
  tokens: number[];
  text: string;
}

/** Filled by generateWith: prefill (to the first token) in ms, and the decode rate after it (null under two tokens). */
export interface GenerateTiming {
  prefillMs: number;
  decodeTokensPerS: number | null;
}

export interface LogitsResult {
  prompt_tokens: number[];
  positions: { id: number; logprob: number }[][];
}

/** The parts of the parsed arguments the computation needs (plain data: it crosses into the page). */
export interface GenerateRequestArgs {
  readonly prompt: string;
  readonly maxTokens: number;
  readonly greedy: boolean;
  readonly temperature?: number;
  readonly seed?: number;
}

export interface LogitsRequestArgs {
  readonly prompt: string;
  readonly top: number;
}

/** llama.cpp's default sampling chain settings, for runs that ask for neither --greedy nor --temperature. */
const DEFAULT_SAMPLING: SamplingOptions = { temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05 };

export async function generateWith(engine: Engine, a: GenerateRequestArgs, onText?: (text: string) => void, timing?: GenerateTiming): Promise<GenerateResult> {
  const promptTokens = engine.tokenize(a.prompt);
  const sampling: SamplingOptions = a.greedy
    ? { temperature: 0 }
    : { ...DEFAULT_SAMPLING, ...(a.temperature !== undefined ? { temperature: a.temperature } : {}), seed: a.seed };
  const tokens: number[] = [];
  let text = '';
  const started = performance.now();
  let first = 0;
  let last = 0;
  for await (const ev of engine.generate({ promptTokens, maxTokens: a.maxTokens, sampling })) {
    if (ev.type === 'token') {
      last = performance.now();
      if (tokens.length === 0) first = last;
      tokens.push(ev.token);
    }
    text += ev.text;
    onText?.(ev.text);
  }
  if (timing) {
    timing.prefillMs = Math.round(first - started);
    timing.decodeTokensPerS = tokens.length > 1 ? +((tokens.length - 1) / ((last - first) / 1000)).toFixed(2) : null;
  }
  return { prompt_tokens: promptTokens, tokens, text };
}

export async function logitsWith(engine: Engine, a: LogitsRequestArgs): Promise<LogitsResult> {
  const promptTokens = engine.tokenize(a.prompt);
  const positions = await engine.logits(promptTokens, a.top);
  return { prompt_tokens: promptTokens, positions: positions.map((p) => p.map(({ id, logprob }) => ({ id, logprob }))) };
}
