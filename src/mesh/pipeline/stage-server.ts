// A server peer's side of the pipeline: follows the layer plans the head gossips, loads only its
// own layer range's tensors through a stage runner (stage-runner.ts: in this process, or in the
// inference worker on WebGPU or WASM), says so (a stage-ready message and its peer state), and runs
// activation streams: each stream is one inference session with its own KV cache; a frame at an
// earlier position than the cache holds rolls the cache back first (truncate: a rejected speculative
// draft), and the stream's end frees it. A frame flagged exact (a verification batch) runs in chunks
// small enough that each row equals a one-token frame's on this backend: one round trip, same bits.
import type { Stream } from '@libp2p/interface';
import { exactBatchOf } from '../../engine/exact-batch.ts';
import type { ComputeOptions, ModelFile } from '../../engine/model.ts';
import type { HeldModel } from '../../protocol/mesh-announcement.ts';
import { decodeActivationFrame, encodeActivationFrame, frameFloats, FRAME_HEADER_BYTES, MAX_FRAME_BYTES } from '../../protocol/mesh-activation-frame.ts';
import type { GossipMessage } from '../../protocol/mesh-messages.ts';
import type { LayerPlan, LayerRange } from '../../protocol/mesh-plan.ts';
import type { MeshNode } from '../net/mesh-node.ts';
import { FrameStream } from '../net/frame-stream.ts';
import { ACTIVATION_PROTOCOL } from '../net/protocols.ts';
import { decodeHello, encodeHello, MAX_HELLO_BYTES, type ChainHop } from './activation-hello.ts';
import { encodeStatus, isProbe } from './chain-status.ts';
import { measureLayerSpeed } from './layer-speed.ts';
import { hasNonFinite, PipelineError } from './pipeline-errors.ts';
import { encodeRefusal, MAX_STREAMS_PER_PEER, STAGE_IDLE_MS } from './stage-limits.ts';
import {
  inProcessStageRunner,
  type RunnerSession,
  type RunningStage,
  type StageBackendChoice,
  type StageBackendName,
  type StageRunner,
} from './stage-runner.ts';

export interface StageServerOptions {
  readonly node: MeshNode;
  /** Where stages run; default: in this process (in-process runner over openModel and compute). */
  readonly runner?: StageRunner;
  /** What the runner is asked for; default 'wasm'. */
  readonly backend?: StageBackendChoice;
  /** Opens a model by id, for the default runner (the page: a Range-reading URL source under <app>/models/). */
  readonly openModel?: (model: string) => Promise<ModelFile>;
  /** Whose plans to follow: the head that receives requests (default: any member). */
  readonly isHead?: (peerId: string) => boolean;
  /** The default runner's kernels; default: the WASM CPU kernels, the reference ones where WASM SIMD is missing. */
  readonly compute?: ComputeOptions;
  readonly onChange?: () => void;
  readonly log?: (line: string) => void;
  /** Hard limits (stage-limits.ts); smaller in tests. */
  readonly limits?: { readonly streamsPerPeer?: number; readonly idleMs?: number };
}

export type StageStatus = 'idle' | 'loading' | 'ready' | 'failed';

export interface StageState {
  readonly status: StageStatus;
  readonly model?: string;
  readonly layers?: LayerRange;
  /** What the loaded stage runs on, and in words (device, cache, worker or page). */
  readonly backend?: StageBackendName;
  readonly backendDetail?: string;
  readonly planEpoch?: number;
  readonly loadMs?: number;
  readonly error?: string;
  /** Inference sessions open now, and frames served since start. */
  readonly sessions: number;
  readonly frames: number;
  /** Time spent computing those frames (the rest of a hop's time is the link and the framing). */
  readonly computeMs: number;
  /** Frames of chained sessions sent on to the next stage (chain-route.ts), not back to the head. */
  readonly forwarded: number;
}

type Loaded = RunningStage;

/** One chained inference session on this stage (chain-route.ts): its feeding stream, the head's control stream, the forward stream. */
interface ChainSession {
  readonly token: string;
  fed: boolean;
  /** Positions completed (the status the head probes for). */
  done: number;
  forwardFailed: boolean;
  /** Last stage only: its feeding stream arrived, so the whole chain is open. */
  wired: boolean;
  /** The previous stage fed a frame with NaN or infinite values. */
  fedNonFinite?: boolean;
  control?: FrameStream;
  forward?: Promise<FrameStream>;
}

/** `nTokens` rows through `session` in chunks of at most `chunk` rows; the rows out in one array. */
async function extendRows(session: RunnerSession, hidden: Float32Array, nTokens: number, width: number, chunk: number): Promise<Float32Array> {
  if (chunk >= nTokens) return session.extend(hidden, nTokens);
  const out = new Float32Array(nTokens * width);
  for (let at = 0; at < nTokens; at += chunk) {
    const n = Math.min(chunk, nTokens - at);
    // a copy: a worker runner may transfer (detach) what it is given
    out.set(await session.extend(hidden.slice(at * width, (at + n) * width), n), at * width);
  }
  return out;
}

const sameRange = (a: LayerRange | undefined, b: LayerRange) => a !== undefined && a.start === b.start && a.end === b.end;

export class StageServer {
  private readonly o: StageServerOptions;
  private readonly runner: StageRunner;
  private loaded: Loaded | undefined;
  private wanted: { model: string; layers: LayerRange; epoch: number } | undefined;
  private status: StageStatus = 'idle';
  private error: string | undefined;
  private loadMs: number | undefined;
  /** The plan (model, epoch, range) this peer last said it is ready for. */
  private announced: string | undefined;
  private epoch: number | undefined;
  private loading = false;
  private sessions = 0;
  private frames = 0;
  private computeMs = 0;
  private forwarded = 0;
  private readonly unlisten: Array<() => void> = [];
  private readonly chains = new Map<string, ChainSession>();
  /** Activation streams open per peer (capped: stage-limits.ts). */
  private readonly streams = new Map<string, number>();

  constructor(options: StageServerOptions) {
    this.o = options;
    const open = options.openModel;
    this.runner =
      options.runner ??
      inProcessStageRunner({
        openModel: open ?? (() => Promise.reject(new PipelineError('pipeline_not_loaded', 'this stage server was given neither a runner nor openModel'))),
        ...(options.compute ? { compute: options.compute } : {}),
        ...(options.log ? { log: options.log } : {}),
      });
  }

  async start(): Promise<void> {
    // Compiled while the peer joins, so a plan's load waits only for the weights.
    this.runner.prepare?.(this.o.backend ?? 'wasm');
    await this.o.node.handleForMembers(ACTIVATION_PROTOCOL, (stream, connection) => this.serveCapped(stream, connection.remotePeer.toString()), {
      runOnLimitedConnection: true,
    });
    this.unlisten.push(this.o.node.addGossipListener((m) => this.onGossip(m)));
  }

  stop(): void {
    for (const u of this.unlisten.splice(0)) u();
  }

  /** Drops the loaded share and frees its memory (the head that planned it left); a later plan loads again. */
  unload(): void {
    const l = this.loaded;
    this.loaded = undefined;
    this.wanted = undefined;
    this.announced = undefined;
    this.status = 'idle';
    void l?.close().catch(() => {});
    this.changed();
  }

  state(): StageState {
    return {
      status: this.status,
      ...(this.wanted ? { model: this.wanted.model, layers: this.wanted.layers } : {}),
      ...(this.loaded ? { backend: this.loaded.backend, backendDetail: this.loaded.detail } : {}),
      ...(this.epoch !== undefined ? { planEpoch: this.epoch } : {}),
      ...(this.loadMs !== undefined ? { loadMs: this.loadMs } : {}),
      ...(this.error ? { error: this.error } : {}),
      sessions: this.sessions,
      frames: this.frames,
      computeMs: this.computeMs,
      forwarded: this.forwarded,
    };
  }

  /** What this peer holds, for its gossiped peer state (the head reads readiness from it too). */
  held(): HeldModel[] {
    const l = this.loaded;
    return l ? [{ model: l.model, layers: l.layers, backend: l.backend === 'webgpu' ? 'webgpu' : 'wasm' }] : [];
  }

  /** Layer speed (layer-speed.ts) of the loaded stage, on its own backend; undefined while none is loaded. */
  async measureSpeed(): Promise<{ readonly model: string; readonly speed: number } | undefined> {
    const l = this.loaded;
    return l ? { model: l.model, speed: await measureLayerSpeed(l) } : undefined;
  }

  private onGossip(m: GossipMessage): void {
    if (m.type !== 'layer-plan' || (this.o.isHead && !this.o.isHead(m.peerId))) return;
    this.follow(m.plan);
  }

  /** Loads this peer's range of the plan (if it has one and does not hold it yet). */
  follow(plan: LayerPlan): void {
    const self = this.o.node.selfPeerId;
    const mine = plan.stages.find((s) => s.peerId === self && s.shard.kind === 'dense');
    if (!mine) return; // left out: keep what is loaded, a later plan may give it back
    this.epoch = plan.epoch;
    this.wanted = { model: plan.model, layers: mine.layers, epoch: plan.epoch };
    if (this.loaded?.model === plan.model && sameRange(this.loaded.layers, mine.layers)) {
      void this.announceReady().catch(this.failed);
      return;
    }
    void this.loadWanted().catch(this.failed);
  }

  private async loadWanted(): Promise<void> {
    if (this.loading) return; // the running load re-checks `wanted` when done
    this.loading = true;
    try {
      while (this.wanted) {
        const want = this.wanted;
        const l = this.loaded;
        if (l && l.model === want.model && sameRange(l.layers, want.layers)) break;
        this.status = 'loading';
        this.changed();
        const started = performance.now();
        try {
          const stage = await this.runner.open(want.model, want.layers, this.o.backend ?? 'wasm');
          if (!this.wanted) {
            // Unloaded while it loaded (the head left): nothing wants it any more.
            void stage.close().catch(() => {});
            this.status = 'idle';
            this.changed();
            return;
          }
          const old = this.loaded;
          const now = this.wanted;
          if (old && old.model === now.model && sameRange(old.layers, now.layers)) {
            // A plan moved this range and the next moved it back while it loaded: the stage held
            // all along stays (its sessions too), and the one just loaded goes.
            void stage.close().catch(() => {});
            this.status = 'ready';
            continue;
          }
          // The stage replaced goes now: its streams belong to an older plan, which the head replays on the new one.
          this.loaded = stage;
          void old?.close().catch(() => {});
          this.loadMs = Math.round(performance.now() - started);
          this.status = 'ready';
          this.error = undefined;
          this.o.log?.(`pipeline: loaded ${want.model} layers ${want.layers.start}-${want.layers.end - 1} on ${stage.detail} in ${this.loadMs} ms`);
        } catch (error) {
          this.status = 'failed';
          this.error = (error as Error).message;
          this.o.log?.(`pipeline: loading ${want.model} failed: ${this.error}`);
          this.changed();
          return;
        }
      }
      await this.announceReady();
    } finally {
      this.loading = false;
    }
  }

  private async announceReady(): Promise<void> {
    const l = this.loaded;
    if (!l) return;
    this.changed();
    // Once per plan: the head republishes its plan every few seconds, and a stage-ready (with a
    // peer state) for each republish made every peer verify a stream of signatures mid-generation.
    // A head that missed it still reads the range from the peer state gossiped every few seconds.
    const said = `${l.model}|${this.epoch ?? 0}|${l.layers.start}-${l.layers.end}`;
    if (said === this.announced) return;
    this.announced = said;
    await this.o.node.publish({ type: 'stage-ready', model: l.model, planEpoch: this.epoch ?? 0, layers: l.layers, shard: { kind: 'dense' } });
    await this.o.node.publishState();
  }

  /** serve(), within the cap on streams per peer, and closed after the idle time without a frame. */
  private async serveCapped(stream: Stream, from: string): Promise<void> {
    const open = (this.streams.get(from) ?? 0) + 1;
    this.streams.set(from, open);
    const idleMs = this.o.limits?.idleMs ?? STAGE_IDLE_MS;
    const activity = { at: performance.now() };
    const idle = setInterval(() => {
      if (performance.now() - activity.at > idleMs) stream.abort(new PipelineError('pipeline_idle', `no frame for ${idleMs} ms: the stage closed the session`));
    }, idleMs / 4);
    try {
      const cap = this.o.limits?.streamsPerPeer ?? MAX_STREAMS_PER_PEER;
      if (open > cap) {
        const error = new PipelineError('pipeline_too_many_streams', `${from} already holds ${cap} activation streams on this stage: close one first`);
        this.o.log?.(`pipeline: ${error.message}`);
        await this.refuse(new FrameStream(stream, MAX_HELLO_BYTES), stream, error);
        return;
      }
      await this.serve(stream, activity);
    } finally {
      clearInterval(idle);
      const left = (this.streams.get(from) ?? 1) - 1;
      if (left > 0) this.streams.set(from, left);
      else this.streams.delete(from);
    }
  }

  /** Tells the sender why (stage-limits.ts) before closing: the head logs the stage's reason, not a bare reset. */
  private async refuse(lp: FrameStream, stream: Stream, error: Error): Promise<void> {
    await lp.write(encodeRefusal(error.message), AbortSignal.timeout(1000)).catch(() => {});
    await stream.close({ signal: AbortSignal.timeout(1000) }).catch(() => {});
    // The head reads the refusal and closes its end; a sender that does not is reset after a
    // moment, so half-open streams cannot pile up against libp2p's per-protocol stream limit.
    if (stream.status === 'open' || stream.status === 'closing') {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        stream.addEventListener(
          'close',
          () => {
            clearTimeout(timer);
            resolve();
          },
          { once: true },
        );
      });
    }
    if (stream.status === 'open' || stream.status === 'closing') stream.abort(error);
  }

  /** One activation stream: a hello naming the layers, then frames until the head (or, chained, the previous stage) closes it. */
  private async serve(stream: Stream, activity: { at: number }): Promise<void> {
    const lp = new FrameStream(stream, FRAME_HEADER_BYTES + MAX_FRAME_BYTES, MAX_HELLO_BYTES);
    let session: RunnerSession | undefined;
    let chained: ChainSession | undefined;
    try {
      const hello = decodeHello(await lp.read(AbortSignal.timeout(10_000)));
      if (!hello.ok) throw new PipelineError('pipeline_bad_hello', `bad activation hello: ${hello.reason}`);
      const l = this.loaded;
      const { model, layers, chain } = hello.value;
      if (!l || l.model !== model || !sameRange(l.layers, layers)) {
        throw new PipelineError('pipeline_not_loaded', `this peer does not hold ${model} layers ${layers.start}-${layers.end - 1}`);
      }
      if (chain) {
        chained = this.chainSession(chain.token);
        if (!chain.feed) return await this.control(lp, stream, chained);
        if (chained.fed) throw new PipelineError('pipeline_bad_hello', 'a second feeding stream for one chained session');
        chained.fed = true;
        const c = chained;
        if (chain.next.length > 0) {
          c.forward = this.openForward(model, hello.value.planEpoch, chain.token, chain.next);
          c.forward.catch((error: unknown) => {
            // Said to the head unasked: it runs this session in star mode instead.
            c.forwardFailed = true;
            this.o.log?.(`pipeline: no direct stream to the next stage: ${(error as Error).message}`);
            void c.control?.write(encodeStatus(c)).catch(() => {});
          });
        } else {
          // The last stage: every stream of the chain is open now.
          c.wired = true;
          void c.control?.write(encodeStatus(c)).catch(() => {});
        }
      }
      const width = l.nEmbd;
      const exactRows = exactBatchOf(l.backend === 'wasm' ? 'cpu' : l.backend);
      session = await l.createSession();
      this.sessions++;
      this.changed();
      for (;;) {
        let bytes: Uint8Array;
        try {
          bytes = await lp.read();
        } catch {
          break; // the head closed the stream (session over) or the link went away
        }
        activity.at = performance.now();
        const frame = decodeActivationFrame(bytes);
        if (!frame.ok) {
          if (chained && hasNonFinite(bytes, FRAME_HEADER_BYTES)) {
            // Said to the head unasked: the stage before this one is the liar, not this one.
            chained.fedNonFinite = true;
            await chained.control?.write(encodeStatus(chained)).catch(() => {});
          }
          throw new PipelineError('pipeline_bad_frame', `dropped a malformed activation frame: ${frame.reason}`);
        }
        const f = frame.value;
        if (f.dtype !== 'f32' || f.width !== width) throw new PipelineError('pipeline_bad_frame', `frames for this stage are f32 of width ${width}`);
        if (f.position > session.length)
          throw new PipelineError('pipeline_bad_frame', `frame at position ${f.position} but the cache holds ${session.length}: positions must be contiguous`);
        if (f.position < session.length) await session.truncate(f.position);
        if (chained) chained.done = f.position;
        const started = performance.now();
        const out = await extendRows(session, frameFloats(f), f.tokenCount, width, f.exact ? exactRows : f.tokenCount);
        this.computeMs += performance.now() - started;
        this.frames++;
        const reply = encodeActivationFrame({
          dtype: f.dtype,
          sessionId: f.sessionId,
          planEpoch: f.planEpoch,
          position: f.position,
          tokenCount: f.tokenCount,
          width: f.width,
          payload: new Uint8Array(out.buffer, out.byteOffset, out.byteLength),
          ...(f.exact ? { exact: true } : {}), // chained: the next stage keeps the rows exact too
        });
        if (!chained) {
          await lp.write(reply);
          continue;
        }
        chained.done = session.length;
        if (chained.forward) {
          try {
            await (await chained.forward).write(reply);
            this.forwarded++;
          } catch (error) {
            // Said in the status the head probes for: it blames the next stage, not this one.
            chained.forwardFailed = true;
            this.o.log?.(`pipeline: forwarding to the next stage failed: ${(error as Error).message}`);
          }
        } else {
          // The last stage answers the head on the head's control stream.
          const to = chained.control;
          if (!to) throw new PipelineError('pipeline_bad_hello', 'the last stage of a chain has no control stream from the head to answer on');
          await to.write(reply);
        }
      }
      await stream.close().catch(() => {});
    } catch (error) {
      this.o.log?.(`pipeline: activation stream ended: ${(error as Error).message}`);
      if (error instanceof PipelineError) await this.refuse(lp, stream, error);
      else stream.abort(error instanceof Error ? error : new Error(String(error)));
    } finally {
      if (session) {
        void session.free().catch(() => {}); // a closed stage (replaced, or its worker gone) has freed it already
        this.sessions--;
        this.changed();
      }
      if (chained && session) this.endChain(chained);
    }
  }

  /** The state of one chained session on this stage, shared by its feeding and control streams. */
  private chainSession(token: string): ChainSession {
    let c = this.chains.get(token);
    if (!c) this.chains.set(token, (c = { token, fed: false, done: 0, forwardFailed: false, wired: false }));
    return c;
  }

  private endChain(c: ChainSession): void {
    this.chains.delete(c.token);
    void c.forward?.then((lp) => lp.stream.close()).catch(() => {});
  }

  /** The stream to the next stage of a chain, with its hello (the rest of the chain after it). */
  private async openForward(model: string, planEpoch: number, token: string, next: readonly ChainHop[]): Promise<FrameStream> {
    const [to, ...rest] = next;
    // Direct links only: a relayed one is capped (2 min / 128 KiB) and goes through the relay anyway.
    const stream = await this.o.node.openStream(to.peerId, ACTIVATION_PROTOCOL, AbortSignal.timeout(10_000), { direct: true });
    const lp = new FrameStream(stream, FRAME_HEADER_BYTES + MAX_FRAME_BYTES);
    await lp.write(encodeHello({ model, layers: to.layers, planEpoch, chain: { token, feed: true, next: rest } }));
    return lp;
  }

  /** The head's control stream of a chained session: answers probes, and carries the last stage's replies out. */
  private async control(lp: FrameStream, stream: Stream, c: ChainSession): Promise<void> {
    c.control = lp;
    try {
      for (;;) {
        const bytes = await lp.read();
        if (!isProbe(bytes)) throw new PipelineError('pipeline_bad_frame', 'a control stream carries status probes only');
        await lp.write(encodeStatus(c));
      }
    } catch (error) {
      if (error instanceof PipelineError) stream.abort(error);
      // The head closed its side (session over): close this one too. A half-closed stream stays in
      // the connection's list, and libp2p refuses a 33rd inbound activation stream on it: every
      // request left one behind, so after about 30 the stage looked dead (a reset hello) to the head.
      else await stream.close({ signal: AbortSignal.timeout(1000) }).catch(() => stream.abort(new Error('the control stream did not close')));
    } finally {
      if (c.control === lp) c.control = undefined;
      if (!c.fed) this.chains.delete(c.token);
    }
  }

  private readonly failed = (error: unknown): void => this.o.log?.(`pipeline: ${(error as Error).message}`);

  private changed(): void {
    this.o.onChange?.();
  }
}
