// Shapes of the llama.cpp reference: what every engine and mesh parity test compares against.

export interface TokenLogprob {
  readonly id: number;
  /** Natural-log probability: exact log-softmax (float64) of llama.cpp's float32 logits. */
  readonly logprob: number;
}

export interface GreedyStep {
  /** The argmax token (lowest id on an exact tie, as llama.cpp's greedy sampler picks). */
  readonly token: number;
  readonly top: TokenLogprob[];
  /** top-1 minus top-2 log-probability: where it is small, correct engines may pick differently. */
  readonly margin: number;
}

/** KV cache element type: F32 keeps attention exact; F16 is llama.cpp's own default. */
export type KvCacheType = 'F32' | 'F16';

export interface ReferenceOptions {
  readonly modelPath: string;
  /** Raw text: tokenized with the model's own BOS/EOS rule, no chat template. */
  readonly prompt: string;
  /** How many log-probabilities to keep per position (default 5). */
  readonly topK?: number;
  /** Greedy continuation length (default 0); stops early after an end-of-generation token. */
  readonly greedySteps?: number;
  /** Context size; default prompt + greedySteps (llama.cpp rounds it up to a multiple of 256). */
  readonly contextSize?: number;
  /** Default F32 (see KvCacheType). */
  readonly kvCacheType?: KvCacheType;
  /** Whether special-token text such as `<s>` in the prompt becomes the special token (default true, as llama.cpp's own tools do). */
  readonly parseSpecial?: boolean;
  /**
   * llama.cpp threads (default 1). CPU results do not depend on it (each output row is one thread's dot
   * product), but on a busy 2-core machine more threads spin at barriers and run ~100× slower.
   */
  readonly threads?: number;
  /** Skip the on-disk cache (default false). */
  readonly noCache?: boolean;
}

export interface ReferenceSettings {
  readonly topK: number;
  readonly greedySteps: number;
  readonly contextSize: number;
  readonly kvCacheType: KvCacheType;
  readonly parseSpecial: boolean;
  readonly threads: number;
  readonly nVocab: number;
  readonly nodeLlamaCpp: string;
}

export interface ReferenceResult {
  readonly promptTokens: number[];
  /** positions[i]: top-K of the next token after prompt position i (teacher-forced), one per prompt token. */
  readonly positions: TokenLogprob[][];
  /** promptLogprobs[i]: the log-prob of promptTokens[i + 1] at position i (the forced token), one fewer than positions. */
  readonly promptLogprobs: number[];
  readonly greedy: GreedyStep[];
  readonly settings: ReferenceSettings;
}
