// What the API needs from whoever runs the model (the Node engine in the companion, a worker engine
// or the mesh in the service worker): a model list, each model's tokenizer and chat template, and
// a token generator. The API does the rest: prompts, stop sequences, EOG, usage, protocols, streaming.
import type { SamplingParams, SpeculativeUsage } from '../protocol/generation.ts';
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
  /** Who would compute it now: each peer and its layers (a mesh head's ready plan, or the head alone); /v1/models' `mesh`. */
  mesh?: ServedBy[];
}

export interface ModelText {
  tokenizer: Tokenizer;
  template: ChatTemplate;
}

/** A contiguous range of layers [start, end) computed by one peer. */
export interface ServedBy {
  peer: string;
  layers: [number, number];
  /** 'open': computed on a public or named mesh, whose peers are strangers who see the prompt. */
  mesh?: 'open';
}

export interface GenerateRequest {
  model: string;
  promptTokens: number[];
  sampling: SamplingParams;
  /** Never yield more than this many tokens. */
  maxTokens: number;
  /** Aborted when the client goes away or the API has what it needs: stop within one token. */
  signal: AbortSignal;
  /** Asked only of a provider whose supportsLogprobs(model) is true. */
  logprobs?: LogprobRequest;
}

/** A token id and its natural-log probability. */
export interface TokenLogprob {
  id: number;
  logprob: number;
}

/**
 * The log-probabilities at one position: the token there and the `top` most likely ones, all from
 * the model's raw distribution (log-softmax of the logits, before penalties and temperature).
 */
export interface PositionLogprobs {
  token: number;
  logprob: number;
  /** Most likely first; exactly the number asked for (fewer only for a smaller vocabulary). */
  top: TokenLogprob[];
}

export interface LogprobRequest {
  /** How many alternatives per token (0..20). */
  top: number;
  /** Called once per generated token, before that token is yielded from `tokens`. */
  onToken(step: PositionLogprobs): void;
}

export interface PromptLogprobs {
  /** Who computed which layers (as Generation.servedBy). */
  servedBy: ServedBy[];
  /** Entry i-1 is about tokens[i] given tokens[0..i), for i = 1 .. tokens.length-1 (the first token has no prediction). */
  positions: PositionLogprobs[];
}

export interface PromptLogprobsRequest {
  model: string;
  /** The whole prompt; scored teacher-forced. */
  tokens: number[];
  top: number;
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
  /** Present when the tokens are decoded speculatively: counts that grow as `tokens` is read. */
  speculative?: SpeculativeUsage;
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
  /**
   * Whether generate() honours `request.logprobs` and promptLogprobs() works for this model. Absent
   * or false: requests asking for log-probs get a 400 naming the limitation.
   */
  supportsLogprobs?(model: string): boolean | Promise<boolean>;
  /** Teacher-forced scoring of a prompt (OpenAI's `echo` with `logprobs`). */
  promptLogprobs?(request: PromptLogprobsRequest): Promise<PromptLogprobs>;
}
