// Chain mode: the head's handle on a whole route of stages for one inference session. The head
// sends each batch's hidden states to the first stage only; every stage forwards its output to the
// next stage's activation stream, and the last stage answers on the head's control stream: k + 1
// one-way hops per batch for k stages, where star mode (remote-stage.ts) takes 2k.
// The head keeps a control stream to every stage, so a stage that leaves is seen at once (its
// stream resets) and a stage that stalls is found when the reply is late: the head probes every
// stage for the positions it has completed, and the first one short of the batch is the culprit
// (or the one after it, when a stage says it could not forward). Either way the caller gets a
// StageFailedError naming that peer and replans without it, as in star mode.
import type { Stream } from '@libp2p/interface';
import { decodeActivationFrame, encodeActivationFrame, frameFloats, FRAME_HEADER_BYTES, MAX_FRAME_BYTES } from '../../protocol/mesh-activation-frame.ts';
import type { LayerPlan } from '../../protocol/mesh-plan.ts';
import type { MeshNode } from '../net/mesh-node.ts';
import { FrameStream } from '../net/frame-stream.ts';
import { ACTIVATION_PROTOCOL } from '../net/protocols.ts';
import { encodeHello } from './activation-hello.ts';
import { decodeStatus, encodeProbe, type ChainStatus } from './chain-status.ts';
import { ChainUnavailableError, hasNonFinite, reason, StageFailedError } from './pipeline-errors.ts';

export interface ChainRouteOptions {
  readonly node: MeshNode;
  readonly plan: LayerPlan;
  readonly sessionId: Uint8Array;
  readonly width: number;
  /** A reply later than this means a stage stalled. */
  readonly timeoutMs: number;
  /** How long each stage has to answer a status probe (default: a quarter of timeoutMs, at most 1 s). */
  readonly probeTimeoutMs?: number;
}

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

export class ChainRoute {
  private readonly o: ChainRouteOptions;
  private readonly peers: string[];
  private readonly streams: Stream[] = [];
  private readonly controls: FrameStream[] = [];
  private feed: FrameStream | undefined;
  private broken: StageFailedError | undefined;
  private closed = false;
  private reply: { resolve: (bytes: Uint8Array) => void; reject: (error: Error) => void } | undefined;
  private readonly probes = new Map<number, (status: ChainStatus) => void>();
  /** While the chain is being set up: hears the statuses stages send unasked. */
  private wiring: ((i: number, status: ChainStatus) => void) | undefined;
  /** Batches sent and answered, and the time spent waiting on them (the hop cost, for the bench). */
  frames = 0;
  waitedMs = 0;

  private constructor(o: ChainRouteOptions) {
    this.o = o;
    this.peers = o.plan.stages.map((s) => s.peerId);
  }

  /** Opens a control stream to every stage (each confirmed by a probe), then the feeding stream to the first. */
  static async open(o: ChainRouteOptions): Promise<ChainRoute> {
    const route = new ChainRoute(o);
    const token = hex(crypto.getRandomValues(new Uint8Array(16)));
    const { model, epoch, stages } = o.plan;
    const signal = AbortSignal.timeout(o.timeoutMs);
    const hello = (i: number, feed: boolean) =>
      encodeHello({
        model,
        layers: stages[i].layers,
        planEpoch: epoch,
        chain: { token, feed, next: feed ? stages.slice(i + 1).map((s) => ({ peerId: s.peerId, layers: s.layers })) : [] },
      });
    const dial = async (i: number): Promise<FrameStream> => {
      try {
        const stream = await o.node.openStream(stages[i].peerId, ACTIVATION_PROTOCOL, signal);
        route.streams.push(stream);
        const lp = new FrameStream(stream, FRAME_HEADER_BYTES + MAX_FRAME_BYTES);
        return lp;
      } catch (error) {
        throw new StageFailedError(stages[i].peerId, `no activation stream: ${reason(error)}`, { cause: error });
      }
    };
    try {
      await Promise.all(
        stages.map(async (s, i) => {
          const lp = await dial(i);
          route.controls[i] = lp;
          try {
            await lp.write(hello(i, false), signal);
            // The probe's answer means the stage has registered this stream for the session's replies.
            await lp.write(encodeProbe(), signal);
            if (!decodeStatus(await lp.read(signal))) throw new Error('bad status answer');
          } catch (error) {
            throw new StageFailedError(s.peerId, signal.aborted ? `no answer within ${o.timeoutMs} ms` : `control stream failed: ${reason(error)}`, {
              cause: error,
            });
          }
        }),
      );
      // Wired when the last stage says its feeding stream arrived; not when a stage has no direct link to the next.
      const wired = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new ChainUnavailableError(`the chain was not open within ${o.timeoutMs} ms`)), o.timeoutMs);
        route.wiring = (i, status) => {
          if (status.forwardFailed) reject(new ChainUnavailableError(`${stages[i].peerId} has no direct link to ${stages[i + 1]?.peerId}`));
          else if (status.wired && i === stages.length - 1) resolve();
          else return;
          clearTimeout(timer);
          route.wiring = undefined;
        };
      });
      wired.catch(() => {}); // awaited below, once the feeding stream is open
      for (let i = 0; i < stages.length; i++) void route.listen(i).catch(() => {}); // its failure fails the reply awaited below
      const feed = await dial(0);
      try {
        await feed.write(hello(0, true), signal);
      } catch (error) {
        throw new StageFailedError(stages[0].peerId, `hello not sent: ${reason(error)}`, { cause: error });
      }
      route.feed = feed;
      await wired;
    } catch (error) {
      route.abort(error);
      throw error;
    }
    return route;
  }

  /** Runs nTokens hidden states at `position` through every stage (`exact`: rows as one-token frames give); the last stage's output. */
  async extend(hidden: Float32Array, nTokens: number, position: number, exact = false): Promise<Float32Array> {
    if (this.broken) throw this.broken;
    const started = performance.now();
    const answered = new Promise<Uint8Array>((resolve, reject) => (this.reply = { resolve, reject }));
    answered.catch(() => {}); // it may fail while the frame is still being written; awaited below
    const timer = setTimeout(() => void this.onLate(position + nTokens).catch(() => {}), this.o.timeoutMs);
    try {
      const payload = new Uint8Array(hidden.buffer, hidden.byteOffset, hidden.byteLength);
      try {
        await this.feed!.write(
          encodeActivationFrame({
            dtype: 'f32',
            sessionId: this.o.sessionId,
            planEpoch: this.o.plan.epoch,
            position,
            tokenCount: nTokens,
            width: this.o.width,
            payload,
            ...(exact ? { exact } : {}),
          }),
        );
      } catch (error) {
        throw this.fail(0, `frame not sent: ${reason(error)}`, error);
      }
      const bytes = await answered;
      const reply = decodeActivationFrame(bytes);
      if (!reply.ok) throw this.fail(this.peers.length - 1, `malformed reply: ${reply.reason}`, undefined, hasNonFinite(bytes, FRAME_HEADER_BYTES));
      const r = reply.value;
      if (r.position !== position || r.tokenCount !== nTokens || r.width !== this.o.width || r.dtype !== 'f32')
        throw this.fail(this.peers.length - 1, 'the reply does not answer the frame sent');
      this.frames++;
      this.waitedMs += performance.now() - started;
      return frameFloats(r);
    } finally {
      clearTimeout(timer);
      this.reply = undefined;
    }
  }

  /** Ends the session on every stage (each frees its KV cache when its streams end). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.streams.map((s) => s.close({ signal: AbortSignal.timeout(1000) }).catch((error: unknown) => s.abort(error as Error))));
  }

  abort(error: unknown): void {
    this.closed = true;
    for (const s of this.streams) s.abort(error instanceof Error ? error : new Error(String(error)));
  }

  /** Reads stage i's control stream: status answers, and (last stage) the replies. A reset names the stage. */
  private async listen(i: number): Promise<void> {
    const lp = this.controls[i];
    const last = i === this.peers.length - 1;
    try {
      for (;;) {
        const bytes = await lp.read();
        const status = decodeStatus(bytes);
        if (status?.fedNonFinite && i > 0) this.fail(i - 1, 'sent NaN or infinite hidden states on to the next stage', undefined, true);
        else if (status) (this.wiring ?? ((j, st) => this.probes.get(j)?.(st)))(i, status);
        else if (last && this.reply) this.reply.resolve(bytes);
        else throw new Error('unexpected message on the control stream');
      }
    } catch (error) {
      if (!this.closed) this.fail(i, `link lost: ${reason(error)}`, error);
    }
  }

  /** The reply is late: probe every stage and blame the first that has not completed the batch. */
  private async onLate(end: number): Promise<void> {
    const late = this.reply;
    const wait = this.o.probeTimeoutMs ?? Math.min(1000, Math.max(50, this.o.timeoutMs / 4));
    const statuses = await Promise.all(
      this.controls.map(
        (lp, i) =>
          new Promise<ChainStatus | undefined>((resolve) => {
            const timer = setTimeout(() => resolve(undefined), wait);
            this.probes.set(i, (s) => {
              clearTimeout(timer);
              resolve(s);
            });
            lp.write(encodeProbe()).catch(() => resolve(undefined));
          }),
      ),
    );
    this.probes.clear();
    if (!late || this.reply !== late) return; // the reply came while the stages were probed
    let culprit = this.peers.length - 1;
    for (let i = 0; i < statuses.length; i++) {
      const s = statuses[i];
      if (!s || s.done < end) {
        culprit = i;
        break;
      }
      if (s.forwardFailed) {
        culprit = Math.min(i + 1, this.peers.length - 1);
        break;
      }
    }
    if (!this.broken) this.fail(culprit, `no reply within ${this.o.timeoutMs} ms`);
  }

  /** Marks the route broken by stage i (the first failure wins), rejects the batch in flight and resets every stream. */
  private fail(i: number, why: string, cause?: unknown, nonFinite = false): StageFailedError {
    const error = this.broken ?? new StageFailedError(this.peers[i], why, { ...(cause === undefined ? {} : { cause }), nonFinite });
    this.broken = error;
    this.reply?.reject(error);
    this.abort(error);
    return error;
  }
}
