// Errors of the weight cache: storage the browser will not give, a download that cannot be cached.
import { MeshError } from '../protocol/errors.ts';

export type StorageErrorCode = 'storage_unavailable' | 'storage_bad_options' | 'storage_unknown_size';

export class StorageError extends MeshError {
  constructor(code: StorageErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'StorageError';
  }
}
