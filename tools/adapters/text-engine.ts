// The smallest interface the API needs from a whole-model engine, whoever runs it: our own Engine,
// @wllama/wllama (llama.cpp in WASM) or @mlc-ai/web-llm (TVM on WebGPU). Whole-model libraries take
// text, not our token ids, so prompts are raw text or chat messages and events carry text first.
import type { FinishReason, SamplingOptions, Usage } from '../../src/engine/engine.ts';

export type { FinishReason, SamplingOptions, Usage } from '../../src/engine/engine.ts';

export type TextEngineKind = 'mesh' | 'wllama' | 'web-llm';

export interface TextMessage {
  readonly role: 'system' | 'user' | 'assistant';
  readonly content: string;
}

/**
 * `text`: raw text, tokenized with the model's BOS rule and special-token text parsed (as llama.cpp's
 * tools do), no chat template. `messages`: rendered with the engine's own chat template.
 */
export type TextPrompt = { readonly text: string } | { readonly messages: readonly TextMessage[] };

export interface TextGenerateRequest {
  readonly prompt: TextPrompt;
  readonly maxTokens: number;
  readonly sampling?: SamplingOptions;
  /** Generation ends when the text contains one of these; it and what follows are not returned. */
  readonly stop?: readonly string[];
  /** Aborting ends the iteration with the signal's reason (an AbortError by default) within one token. */
  readonly signal?: AbortSignal;
}

export type TextEvent =
  /** One generated token; `token` is its id where the engine reports ids (web-llm does not). */
  | { readonly type: 'token'; readonly text: string; readonly token?: number }
  /** The last event: why it ended, token counts, any text released only at the end. */
  | { readonly type: 'done'; readonly finishReason: FinishReason; readonly usage: Usage; readonly text: string };

export interface TextEngine {
  /** The name clients put in `model`. */
  readonly id: string;
  readonly kind: TextEngineKind;
  /** Prompt plus generated tokens must fit. */
  readonly contextLength: number;
  generate(request: TextGenerateRequest): AsyncGenerator<TextEvent, void, undefined>;
  /** Frees the model (worker, WASM memory, GPU buffers). The engine is unusable afterwards. */
  close(): Promise<void>;
}

/** Collects a whole generation: the text (token texts plus the final text) and the done event. */
export async function collectText(events: AsyncIterable<TextEvent>): Promise<{ text: string; tokens: number[]; done: Extract<TextEvent, { type: 'done' }> }> {
  let text = '';
  const tokens: number[] = [];
  for await (const e of events) {
    text += e.text;
    if (e.type === 'token') {
      if (e.token !== undefined) tokens.push(e.token);
    } else {
      return { text, tokens, done: e };
    }
  }
  throw new Error('the generation ended without a done event');
}
