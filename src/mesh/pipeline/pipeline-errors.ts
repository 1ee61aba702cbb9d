// Errors of the mesh pipeline. A stage failure names the peer, so the head can replan without it.
import { MeshError } from '../../protocol/errors.ts';

export type PipelineErrorCode =
  | 'pipeline_stage_failed'
  | 'pipeline_no_route'
  | 'pipeline_bad_hello'
  | 'pipeline_bad_frame'
  | 'pipeline_not_loaded'
  | 'pipeline_idle'
  | 'pipeline_too_many_streams'
  | 'pipeline_chain_unavailable';

export class PipelineError extends MeshError {
  constructor(code: PipelineErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'PipelineError';
  }
}

/** A stage that left, stalled past the timeout or answered garbage: the head replans without it. */
export class StageFailedError extends PipelineError {
  readonly peerId: string;
  constructor(peerId: string, why: string, options?: { cause?: unknown }) {
    super('pipeline_stage_failed', `the stage on ${peerId} failed (${why}); the head replans without it and replays the tokens so far`, options);
    this.name = 'StageFailedError';
    this.peerId = peerId;
  }
}

/** Chain mode could not be set up (no direct link between two stages): the session runs in star mode instead. */
export class ChainUnavailableError extends PipelineError {
  constructor(why: string, options?: { cause?: unknown }) {
    super('pipeline_chain_unavailable', `the stages cannot be chained (${why}); the head sends to each stage in turn instead`, options);
    this.name = 'ChainUnavailableError';
  }
}

/** What went wrong, in words, whatever was thrown (a data channel's error event has no message). */
export function reason(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  if (error && typeof error === 'object' && 'type' in error) return `${String((error as { type: unknown }).type)} event`;
  return String(error);
}
