// Errors of the reference harness: a code and a message that says what to do next.
import { MeshError } from '../../src/protocol/errors.ts';

export type ReferenceErrorCode =
  | 'reference_bad_options'
  | 'reference_model_missing'
  | 'reference_load_failed'
  | 'reference_context_overflow'
  | 'reference_inconsistent';

export class ReferenceHarnessError extends MeshError {
  constructor(code: ReferenceErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'ReferenceHarnessError';
  }
}
