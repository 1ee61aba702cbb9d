// Errors of the mesh pipeline. A stage failure names the peer, so the head can replan without it.
import { MeshError } from '../../protocol/errors.ts';
import { firstNonFinite } from '../../protocol/mesh-activation-frame.ts';

export type PipelineErrorCode =
  | 'pipeline_stage_failed'
  | 'pipeline_no_route'
  | 'pipeline_bad_hello'
  | 'pipeline_bad_frame'
  | 'pipeline_not_loaded'
  | 'pipeline_idle'
  | 'pipeline_too_many_streams'
  | 'pipeline_chain_unavailable'
  | 'pipeline_stage_check_failed';

export class PipelineError extends MeshError {
  constructor(code: PipelineErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'PipelineError';
  }
}

/** A stage that left, stalled past the timeout or answered garbage: the head replans without it. */
export class StageFailedError extends PipelineError {
  readonly peerId: string;
  /** It answered NaN or infinite hidden states: a lie or a broken stage, quarantined like a failed check. */
  readonly nonFinite: boolean;
  constructor(peerId: string, why: string, options?: { cause?: unknown; nonFinite?: boolean }) {
    super('pipeline_stage_failed', `the stage on ${peerId} failed (${why}); the head replans without it and replays the tokens so far`, options);
    this.name = 'StageFailedError';
    this.peerId = peerId;
    this.nonFinite = options?.nonFinite ?? false;
  }
}

/** A reply frame whose payload holds NaN or infinite values (the decoder refuses it). */
export function hasNonFinite(frame: Uint8Array, headerBytes: number): boolean {
  return frame.length > headerBytes && firstNonFinite(frame.subarray(headerBytes), frame[5] === 1 ? 'f16' : 'f32') >= 0;
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

/**
 * A stage's hidden states were not what the head re-computed (stage-check.ts), or were not finite:
 * the stage is quarantined. The answer in progress is wrong from the first bad row on.
 */
export class StageCheckFailedError extends PipelineError {
  readonly peerIds: readonly string[];
  readonly reason: string;
  /** Steps (decode: tokens) from the first wrong row to the check that found it. */
  readonly detectSteps: number | undefined;
  /** Stages of a chain that was off as a whole, none shown alone: checked one by one (star) from now on. */
  readonly suspects: readonly string[];
  constructor(peerIds: readonly string[], reason: string, detectSteps: number | undefined, suspects: readonly string[] = []) {
    super(
      'pipeline_stage_check_failed',
      peerIds.length
        ? `the stage on ${peerIds.join(', ')} computed wrong hidden states (${reason}); it is quarantined and the answer is computed again without it`
        : `the stages on ${suspects.join(', ')} computed wrong hidden states between them (${reason}); the answer is computed again with each stage checked alone`,
    );
    this.name = 'StageCheckFailedError';
    this.peerIds = peerIds;
    this.reason = reason;
    this.detectSteps = detectSteps;
    this.suspects = suspects;
  }
}
