// Errors of the whole-model adapters: what went wrong in terms a user can act on, with the library's
// own error kept as the cause.
import { MeshError } from '../../src/protocol/errors.ts';

export type AdapterErrorCode =
  /** The library could not load the model (bad URL, HTTP error, not a model, missing model library). */
  | 'adapter_load_failed'
  /** The load did not finish in the time given. */
  | 'adapter_load_timeout'
  /** The browser lacks what the library needs (WebGPU, a GPU feature, cross-origin isolation). */
  | 'adapter_unsupported_environment'
  /** A request the library cannot honour (e.g. top-k on web-llm). */
  | 'adapter_unsupported_option'
  | 'adapter_bad_input'
  | 'adapter_generation_failed'
  | 'adapter_closed';

export class AdapterError extends MeshError {
  constructor(code: AdapterErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'AdapterError';
  }
}

/** The message of whatever a library threw (they throw Errors, strings and numbers). */
export function describeCause(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

export function isAbort(e: unknown, signal?: AbortSignal): boolean {
  return (signal?.aborted ?? false) || (e instanceof Error && e.name === 'AbortError');
}
