// The head's handle on one stage of one inference session: an activation stream to the peer that
// runs the layers. extend() sends a hidden-state frame and waits for the stage's reply; a link
// that drops, a stall past the timeout or a malformed reply becomes a StageFailedError naming the
// peer, so the caller can replan without it.
import type { Stream } from '@libp2p/interface';
import { decodeActivationFrame, encodeActivationFrame, frameFloats, FRAME_HEADER_BYTES, MAX_FRAME_BYTES } from '../../protocol/mesh-activation-frame.ts';
import type { PlanStage } from '../../protocol/mesh-plan.ts';
import type { MeshNode } from '../net/mesh-node.ts';
import { FrameStream } from '../net/frame-stream.ts';
import { ACTIVATION_PROTOCOL } from '../net/protocols.ts';
import { encodeHello } from './activation-hello.ts';
import { hasNonFinite, reason, StageFailedError } from './pipeline-errors.ts';
import { decodeRefusal } from './stage-limits.ts';

export interface RemoteStageOptions {
  readonly node: MeshNode;
  readonly stage: PlanStage;
  readonly model: string;
  readonly planEpoch: number;
  readonly sessionId: Uint8Array;
  readonly width: number;
  /** A reply later than this means the stage stalled. */
  readonly timeoutMs: number;
}

export class RemoteStage {
  readonly peerId: string;
  private readonly o: RemoteStageOptions;
  private readonly stream: Stream;
  private readonly lp: FrameStream;
  /** Frames sent and answered, and the time spent waiting on them (the hop cost, for the bench). */
  frames = 0;
  waitedMs = 0;

  private constructor(o: RemoteStageOptions, stream: Stream) {
    this.o = o;
    this.peerId = o.stage.peerId;
    this.stream = stream;
    this.lp = new FrameStream(stream, FRAME_HEADER_BYTES + MAX_FRAME_BYTES);
  }

  static async open(o: RemoteStageOptions): Promise<RemoteStage> {
    const signal = AbortSignal.timeout(o.timeoutMs);
    let stream: Stream;
    try {
      stream = await o.node.openStream(o.stage.peerId, ACTIVATION_PROTOCOL, signal);
    } catch (error) {
      throw new StageFailedError(o.stage.peerId, `no activation stream: ${reason(error)}`, { cause: error });
    }
    const remote = new RemoteStage(o, stream);
    try {
      await remote.lp.write(encodeHello({ model: o.model, layers: o.stage.layers, planEpoch: o.planEpoch }), signal);
    } catch (error) {
      remote.abort(error);
      throw new StageFailedError(o.stage.peerId, `hello not sent: ${reason(error)}`, { cause: error });
    }
    return remote;
  }

  /** Runs nTokens hidden states at `position` (earlier than the stage's cache: it rolls back first); `exact`: rows as one-token frames give. */
  async extend(hidden: Float32Array, nTokens: number, position: number, exact = false): Promise<Float32Array> {
    // A timer cleared on the reply, not AbortSignal.timeout: that one stays armed for the whole
    // timeout after every frame (thousands of live timers at decode speed, each weakly held).
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new Error('stage timeout')), this.o.timeoutMs);
    const signal = timeout.signal;
    const started = performance.now();
    let nonFinite = false;
    try {
      const payload = new Uint8Array(hidden.buffer, hidden.byteOffset, hidden.byteLength);
      await this.lp.write(
        encodeActivationFrame({
          dtype: 'f32',
          sessionId: this.o.sessionId,
          planEpoch: this.o.planEpoch,
          position,
          tokenCount: nTokens,
          width: this.o.width,
          payload,
          ...(exact ? { exact } : {}),
        }),
        signal,
      );
      const bytes = await this.lp.read(signal);
      const refused = decodeRefusal(bytes);
      if (refused !== undefined) throw new Error(`the stage refused the frame: ${refused}`);
      const reply = decodeActivationFrame(bytes);
      if (!reply.ok) {
        if (hasNonFinite(bytes, FRAME_HEADER_BYTES)) nonFinite = true;
        throw new Error(`malformed reply: ${reply.reason}`);
      }
      const r = reply.value;
      if (r.position !== position || r.tokenCount !== nTokens || r.width !== this.o.width || r.dtype !== 'f32')
        throw new Error('the reply does not answer the frame sent');
      this.frames++;
      this.waitedMs += performance.now() - started;
      return frameFloats(r);
    } catch (error) {
      this.abort(error);
      const why = signal.aborted ? `no reply within ${this.o.timeoutMs} ms` : reason(error);
      throw new StageFailedError(this.peerId, why, { cause: error, nonFinite });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Ends the session on the stage (it frees the KV cache when the stream ends). */
  async close(): Promise<void> {
    await this.stream.close({ signal: AbortSignal.timeout(1000) }).catch((error: unknown) => this.abort(error));
  }

  abort(error: unknown): void {
    this.stream.abort(error instanceof Error ? error : new Error(String(error)));
  }
}
