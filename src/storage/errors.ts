// Errors of the weight cache: storage the browser will not give, a download that cannot be cached or kept.
import { MeshError } from '../protocol/errors.ts';

export type StorageErrorCode = 'storage_unavailable' | 'storage_bad_options' | 'storage_unknown_size' | 'storage_full' | 'storage_damaged';

export class StorageError extends MeshError {
  constructor(code: StorageErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'StorageError';
  }
}
