// Our generation request in llama-server's terms (wllama 3 runs llama-server's completion handler in
// WASM), and its streamed chunks back into our events. Pure functions, tested without a browser.
import { AdapterError } from './errors.ts';
import type { FinishReason, TextGenerateRequest, Usage } from './text-engine.ts';

/** The llama-server fields we send (the OpenAI-style fields plus llama.cpp's sampler settings). */
export interface WllamaSamplingParams {
  max_tokens: number;
  temperature: number;
  top_k: number;
  top_p: number;
  min_p: number;
  repeat_penalty: number;
  repeat_last_n: number;
  presence_penalty: number;
  frequency_penalty: number;
  seed?: number;
  stop?: string[];
  /** One top log-probability per step is how llama-server reports each token's id. */
  n_probs: number;
}

export function checkMaxTokens(maxTokens: number): void {
  if (!Number.isInteger(maxTokens) || maxTokens < 1) {
    throw new AdapterError('adapter_bad_input', `maxTokens must be a positive integer, got ${maxTokens}`);
  }
}

/**
 * Every sampler field is sent explicitly: llama-server's own defaults (top_k 40, top_p 0.95, min_p
 * 0.05, temperature 0.8) differ from ours (all off, temperature 1) and would change the distribution.
 */
export function wllamaSamplingParams(req: TextGenerateRequest): WllamaSamplingParams {
  checkMaxTokens(req.maxTokens);
  const s = req.sampling ?? {};
  const p: WllamaSamplingParams = {
    max_tokens: req.maxTokens,
    temperature: s.temperature ?? 1,
    top_k: s.topK ?? 0,
    top_p: s.topP ?? 1,
    min_p: s.minP ?? 0,
    repeat_penalty: s.repeatPenalty ?? 1,
    repeat_last_n: s.penaltyLastN ?? 64,
    presence_penalty: s.presencePenalty ?? 0,
    frequency_penalty: s.frequencyPenalty ?? 0,
    n_probs: 1,
  };
  // llama-server reads the seed as a uint32; a missing one means a random seed there too.
  if (s.seed !== undefined) p.seed = Math.floor(s.seed) >>> 0;
  if (req.stop?.length) p.stop = [...req.stop];
  return p;
}

/** What we read from a streamed chunk, completion (`text`) or chat (`delta.content`) alike. */
export interface WllamaChunk {
  choices?: {
    text?: string;
    delta?: { content?: string | null };
    finish_reason?: string | null;
    logprobs?: { content?: { id?: number }[] | null } | null;
  }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  timings?: { prompt_n?: number; cache_n?: number; predicted_n?: number };
}

export interface ChunkReading {
  text: string;
  /** The ids of the tokens this chunk holds (llama-server may hold back a partial character and send several at once). */
  tokens: number[];
  finishReason?: FinishReason;
  usage?: Usage;
}

export function readWllamaChunk(chunk: WllamaChunk): ChunkReading {
  const choice = chunk.choices?.[0];
  const text = choice?.text ?? choice?.delta?.content ?? '';
  const tokens = (choice?.logprobs?.content ?? []).map((c) => c.id).filter((id): id is number => typeof id === 'number');
  const r: ChunkReading = { text, tokens };
  if (choice?.finish_reason) r.finishReason = choice.finish_reason === 'length' ? 'length' : 'stop';
  if (chunk.usage && typeof chunk.usage.prompt_tokens === 'number') {
    r.usage = { promptTokens: chunk.usage.prompt_tokens, completionTokens: chunk.usage.completion_tokens ?? 0 };
  } else if (chunk.timings && typeof chunk.timings.prompt_n === 'number') {
    // Chat streams carry timings only: the prompt is what was computed plus what came from the cache.
    r.usage = { promptTokens: chunk.timings.prompt_n + (chunk.timings.cache_n ?? 0), completionTokens: chunk.timings.predicted_n ?? 0 };
  }
  return r;
}
