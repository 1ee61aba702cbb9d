// The one error the HTTP API raises: a protocol-neutral kind plus what to fix, rendered in each API's
// own shape (OpenAI `{"error":{…}}`, Anthropic `{"type":"error","error":{…}}`) with its HTTP status.
import { MeshError } from './errors.ts';

export type ApiErrorKind =
  | 'invalid_request'
  | 'authentication'
  | 'permission'
  | 'not_found'
  | 'method_not_allowed'
  | 'too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'unavailable'
  | 'internal';

const STATUS: Record<ApiErrorKind, number> = {
  invalid_request: 400,
  authentication: 401,
  permission: 403,
  not_found: 404,
  method_not_allowed: 405,
  too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  unavailable: 503,
  internal: 500,
};

const OPENAI_TYPE: Record<ApiErrorKind, string> = {
  invalid_request: 'invalid_request_error',
  authentication: 'authentication_error',
  permission: 'permission_error',
  not_found: 'invalid_request_error',
  method_not_allowed: 'invalid_request_error',
  too_large: 'invalid_request_error',
  unsupported_media_type: 'invalid_request_error',
  rate_limited: 'requests',
  unavailable: 'server_error',
  internal: 'server_error',
};

const ANTHROPIC_TYPE: Record<ApiErrorKind, string> = {
  invalid_request: 'invalid_request_error',
  authentication: 'authentication_error',
  permission: 'permission_error',
  not_found: 'not_found_error',
  method_not_allowed: 'invalid_request_error',
  too_large: 'request_too_large',
  unsupported_media_type: 'invalid_request_error',
  rate_limited: 'rate_limit_error',
  unavailable: 'overloaded_error',
  internal: 'api_error',
};

export interface ApiErrorOptions {
  /** The request field at fault, as a path ("messages[2].content"), for OpenAI's `param`. */
  param?: string | null;
  /** A stable machine-readable code (OpenAI's `code`), e.g. "model_not_found". */
  code?: string | null;
  /** Seconds a client should wait before retrying (429, 503): sent as Retry-After. */
  retryAfter?: number;
  cause?: unknown;
}

export class ApiError extends MeshError {
  readonly kind: ApiErrorKind;
  readonly status: number;
  readonly param: string | null;
  readonly retryAfter: number | undefined;

  constructor(kind: ApiErrorKind, message: string, options: ApiErrorOptions = {}) {
    super(options.code ?? kind, message, { cause: options.cause });
    this.name = 'ApiError';
    this.kind = kind;
    this.status = STATUS[kind];
    this.param = options.param ?? null;
    this.retryAfter = options.retryAfter;
  }

  /** The OpenAI `code` field: only set when a specific one was given. */
  get openAiCode(): string | null {
    return this.code === this.kind ? null : this.code;
  }
}

export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export interface AnthropicErrorBody {
  type: 'error';
  error: { type: string; message: string };
}

export function openAiErrorBody(e: ApiError): OpenAiErrorBody {
  return { error: { message: e.message, type: OPENAI_TYPE[e.kind], param: e.param, code: e.openAiCode } };
}

/** Anthropic's shape has no `param`: messages name the field themselves. */
export function anthropicErrorBody(e: ApiError): AnthropicErrorBody {
  return { type: 'error', error: { type: ANTHROPIC_TYPE[e.kind], message: e.message } };
}

/** Any thrown value as an ApiError: ApiErrors pass through, anything else is an internal error. */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new ApiError('internal', `internal error: ${message}; this is a bug, please report it with the request that caused it`, { cause: e });
}
