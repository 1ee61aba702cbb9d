// What both HTTP APIs normalise a request into: a conversation (or raw prompt), sampling settings
// and limits, so the API layer runs one generation path whichever protocol the client speaks.
import { optionalNumber, type JsonObject } from './json-checks.ts';

export interface SamplingParams {
  /** 0 = greedy. */
  temperature: number;
  /** 1 = off. */
  topP: number;
  /** 0 = off. */
  topK: number;
  /** 0 = off. */
  minP: number;
  /** 0 = off (OpenAI semantics: subtracted once per token that appeared). */
  presencePenalty: number;
  /** 0 = off (subtracted per occurrence). */
  frequencyPenalty: number;
  /** 1 = off (llama.cpp semantics). */
  repeatPenalty: number;
  seed?: number;
}

/**
 * A usage extension (OpenAI's and Anthropic's `usage.speculative`), present only when the answer was
 * decoded speculatively: draft tokens the model verified, and how many of them it accepted.
 */
export interface SpeculativeUsage {
  drafted: number;
  accepted: number;
}

export const DEFAULT_SAMPLING: Readonly<SamplingParams> = {
  temperature: 1,
  topP: 1,
  topK: 0,
  minP: 0,
  presencePenalty: 0,
  frequencyPenalty: 0,
  repeatPenalty: 1,
};

/** A function a model may call, as chat templates expect it ({type:'function', function:{…}}). */
export interface ToolSpec {
  name: string;
  description?: string;
  parameters: JsonObject;
}

export type ToolChoice = 'auto' | 'none' | 'required' | { name: string };

export interface ToolCall {
  id: string;
  name: string;
  /** The arguments object (OpenAI sends it as a JSON string; templates want the object). */
  arguments: JsonObject;
}

/** One turn, close to what Hugging Face chat templates read. */
export interface ChatTurn {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  toolCalls?: ToolCall[];
  /** For role "tool": which call this answers. */
  toolCallId?: string;
  name?: string;
}

export interface GenerationSpec {
  model: string;
  /** Undefined: up to the model's context. */
  maxTokens?: number;
  sampling: SamplingParams;
  stop: string[];
  stream: boolean;
  /**
   * Report each generated token's log-prob and this many alternatives (OpenAI's logprobs; 0..20).
   * Undefined: off.
   */
  logprobs?: number;
}

export interface ChatGeneration extends GenerationSpec {
  messages: ChatTurn[];
  tools: ToolSpec[];
  toolChoice: ToolChoice;
}

/**
 * The sampling fields both APIs share plus our extras (top_k, min_p, repeat_penalty); the
 * protocol-specific ones (OpenAI's penalties and seed) are read by the caller.
 */
export function readSampling(body: JsonObject, limits: { maxTemperature: number }): SamplingParams {
  const s: SamplingParams = { ...DEFAULT_SAMPLING };
  s.temperature = optionalNumber(body, 'temperature', { min: 0, max: limits.maxTemperature }) ?? s.temperature;
  s.topP = optionalNumber(body, 'top_p', { above: 0, max: 1 }) ?? s.topP;
  s.topK = optionalNumber(body, 'top_k', { min: 0, max: 1_000_000, integer: true }) ?? s.topK;
  s.minP = optionalNumber(body, 'min_p', { min: 0, max: 1 }) ?? s.minP;
  s.repeatPenalty = optionalNumber(body, 'repeat_penalty', { above: 0, max: 10 }) ?? s.repeatPenalty;
  return s;
}

/** Limits a validator needs that depend on the server, not the protocol. */
export interface ValidationLimits {
  /** Largest accepted max_tokens (the biggest served context). */
  maxOutputTokens: number;
}

export const DEFAULT_LIMITS: ValidationLimits = { maxOutputTokens: 1 << 20 };
