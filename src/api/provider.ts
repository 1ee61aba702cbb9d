// What the API needs from whoever runs the model (the Node engine in the companion, a worker engine
// or the mesh in the service worker): a model list, each model's tokenizer and chat template, and
// a token generator. The API does the rest: prompts, stop sequences, EOG, usage, protocols, streaming.
import type { SamplingParams } from '../protocol/generation.ts';
import type { ChatTemplate, Tokenizer } from '../tokenizer/index.ts';

export interface ModelDescriptor {
  /** The name clients put in `model`. */
  id: string;
  /** Who serves it, for /v1/models' owned_by (e.g. "mesh", a peer id). */
  ownedBy: string;
  /** Context length the model is served with: prompt plus generated tokens must fit. */
  contextLength: number;
  /** Unix seconds; 0 when unknown. */
  created?: number;
}

export interface ModelText {
  tokenizer: Tokenizer;
  template: ChatTemplate;
}

/** A contiguous range of layers [start, end) computed by one peer. */
export interface ServedBy {
  peer: string;
  layers: [number, number];
}

export interface GenerateRequest {
  model: string;
  promptTokens: number[];
  sampling: SamplingParams;
  /** Never yield more than this many tokens. */
  maxTokens: number;
  /** Aborted when the client goes away or the API has what it needs: stop within one token. */
  signal: AbortSignal;
}

export interface Generation {
  /** Known before the first token, so it can go in response headers. */
  servedBy: ServedBy[];
  /**
   * Sampled token ids, one per step. The API stops reading at an end-of-generation token, a stop
   * sequence or maxTokens (then calls return() and aborts the signal); the provider may end early
   * (e.g. context full), which the API reports as finish_reason "length".
   */
  tokens: AsyncIterable<number>;
  /** Prompt tokens whose KV cache was reused from an earlier generation (not evaluated again). */
  cachedPromptTokens?: number;
}

export interface ModelProvider {
  listModels(): ModelDescriptor[] | Promise<ModelDescriptor[]>;
  /** Tokenizer and chat template of a listed model (cached by the provider). */
  modelText(model: string): Promise<ModelText>;
  /**
   * Starts a generation. Rejects with an ApiError (e.g. kind "unavailable" when no peer can serve
   * the model) before any token; other rejections become 500s.
   */
  generate(request: GenerateRequest): Promise<Generation>;
}
