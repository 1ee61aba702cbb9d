// The tokenizer's error class: what could not be loaded or encoded, and what to do about it.
import { MeshError } from '../protocol/errors.ts';

export type TokenizerErrorCode =
  /** tokenizer.ggml.model names a vocabulary type we do not implement (e.g. bert/WPM, t5/UGM). */
  | 'tokenizer_unsupported_model'
  /** tokenizer.ggml.pre names a BPE pre-tokenizer we do not implement exactly. */
  | 'tokenizer_unsupported_pre'
  /** A required metadata key is missing or has the wrong type. */
  | 'tokenizer_bad_metadata'
  /** A token id outside the vocabulary, or text that cannot be encoded with it. */
  | 'tokenizer_bad_input';

export class TokenizerError extends MeshError {
  constructor(code: TokenizerErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'TokenizerError';
  }
}
