// Errors across the inference worker boundary. comlink would send a thrown Error as name and message
// only, so the worker throws a plain WireError object instead and the page turns it back into an
// error with its code (GgufError, EngineError and kernel codes keep theirs) or a DOMException
// 'AbortError' for a cancelled call, exactly what the same call on an in-page Engine would throw.
import { MeshError } from '../protocol/errors.ts';
import { isWireError, type EngineWorkerErrorCode, type WireError } from '../protocol/engine-worker.ts';

/** An error raised by the worker boundary itself, or one re-created from the worker's WireError. */
export class EngineWorkerError extends MeshError {
  constructor(code: EngineWorkerErrorCode | string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'EngineWorkerError';
  }
}

function isAbort(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'AbortError';
}

/** Worker side: any thrown value as plain data that survives structured clone. */
export function toWireError(e: unknown): WireError {
  if (!(e instanceof Error) && isWireError(e)) return e; // already converted (a nested wire() call)
  if (isAbort(e)) return { name: 'AbortError', code: undefined, message: (e as Error).message || 'the operation was aborted' };
  if (e instanceof MeshError) return { name: e.name, code: e.code, message: e.message, stack: e.stack };
  if (e instanceof RangeError) {
    // What a typed-array allocation for absurd dimensions throws: a bad file, not a dead worker.
    return {
      name: 'RangeError',
      code: 'engine_bad_model',
      message: `the model needs more memory than this worker can allocate (${e.message}): its dimensions are absurd or it is too large for this device`,
      stack: e.stack,
    };
  }
  if (e instanceof Error) return { name: e.name, code: undefined, message: e.message, stack: e.stack };
  return { name: 'Error', code: undefined, message: String(e) };
}

/** Page side: a WireError back into an Error the caller can switch on (`.code`, or name 'AbortError'). */
export function fromWireError(w: WireError): Error {
  if (w.name === 'AbortError') return new DOMException(w.message, 'AbortError');
  const e = w.code ? new EngineWorkerError(w.code, w.message) : new Error(w.message);
  if (w.code) e.name = w.name === 'Error' ? 'EngineWorkerError' : w.name;
  else e.name = w.name;
  if (w.stack) e.stack = `${e.name}: ${w.message}\n    (in the inference worker)\n${w.stack.split('\n').slice(1).join('\n')}`;
  return e;
}

/** Runs fn and rethrows anything it throws as a WireError (the worker side of every call). */
export async function wire<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw toWireError(e);
  }
}

/** The same for calls that must stay synchronous. */
export function wireSync<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw toWireError(e);
  }
}
