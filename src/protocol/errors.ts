// Error classes shared by every part: each has a stable code and a message that says what to do next.

export class MeshError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MeshError';
    this.code = code;
  }
}

/** A model file that cannot be read: wrong magic, truncated, lying offsets, unsupported types. */
export class GgufError extends MeshError {
  constructor(code: GgufErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'GgufError';
  }
}

export type GgufErrorCode =
  | 'gguf_bad_magic'
  | 'gguf_bad_version'
  | 'gguf_truncated'
  | 'gguf_corrupt'
  | 'gguf_unsupported_type'
  | 'gguf_fetch_failed'
  | 'gguf_split_missing'
  | 'gguf_split_mismatch';
