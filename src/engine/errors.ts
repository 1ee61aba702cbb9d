// Errors of the engine: unsupported models, bad split ranges, context overflow, misuse of sessions,
// backends that are not built yet, model files that cannot be opened.
import { MeshError } from '../protocol/errors.ts';

export type EngineErrorCode =
  | 'engine_unsupported_arch'
  | 'engine_bad_model'
  | 'engine_bad_range'
  | 'engine_bad_input'
  | 'engine_context_overflow'
  | 'engine_session_freed'
  | 'engine_backend_unavailable'
  | 'engine_model_unreadable';

export class EngineError extends MeshError {
  constructor(code: EngineErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'EngineError';
  }
}
