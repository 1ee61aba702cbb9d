// The head observing its servers instead of believing them (capacity.ts holds the claims to it):
// it measures its own round trip to each linked server (the echo every member answers, rtt-stream.ts)
// and times each ready stage of its plan: one-token frames at position 0 on a session of its own,
// the best of a few, less the link's share. A component with start()/stop(); a round at a time.
import type { LayerPlan } from '../../protocol/mesh-plan.ts';
import type { CapacityLedger } from '../capacity.ts';
import { stageBytes, type ModelMemory } from '../layer-memory.ts';
import type { MeshNode } from '../net/mesh-node.ts';
import { RTT_PROTOCOL } from '../net/protocols.ts';
import { measureRtt } from '../net/rtt-stream.ts';
import { randomBytes } from '../bytes.ts';
import { RemoteStage } from './remote-stage.ts';

export interface CapacityProbeOptions {
  readonly node: MeshNode;
  /** The plan whose ready stages are timed (the coordinator's route). */
  readonly route: () => { readonly plan: LayerPlan } | undefined;
  readonly ledger: CapacityLedger;
  /** Hidden-state width of the planned model. */
  readonly width: number;
  /** The planned model's sizes: a stage seen running proves that much memory (capacity.ts). */
  readonly memory: ModelMemory;
  /** A round every this often (default 10 s). */
  readonly everyMs?: number;
  /** A stage's timing is redone after this long (default 2 min), or when its range changes. */
  readonly retimeMs?: number;
  /** Timed frames per stage (default 4, after one warm-up). */
  readonly frames?: number;
  /** Servers measured per round (default 16). */
  readonly perRound?: number;
  readonly log?: (line: string) => void;
}

/** A frame's time less at most this share of it is counted as compute: a peer that slows its echoes cannot make its layers look free. */
const MIN_COMPUTE_SHARE = 0.1;

export class CapacityProbe {
  private readonly o: CapacityProbeOptions;
  private timer: ReturnType<typeof setInterval> | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  /** Per peer: the stage last timed (model and range) and when. */
  private readonly timed = new Map<string, { key: string; at: number }>();
  private cursor = 0;

  constructor(options: CapacityProbeOptions) {
    this.o = options;
  }

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => void this.round().catch(() => {}), this.o.everyMs ?? 10_000);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  /** One round (tests call it directly): round trips to a few servers, then timings of stages due. */
  round(): Promise<void> {
    this.running ??= this.measure().finally(() => (this.running = undefined));
    return this.running;
  }

  private async measure(): Promise<void> {
    const servers = this.o.node.memberList().filter((m) => m.state?.role === 'server' && m.links.length > 0);
    const n = Math.min(servers.length, this.o.perRound ?? 16);
    for (let i = 0; i < n && !this.stopped; i++) {
      const peer = servers[(this.cursor + i) % servers.length];
      try {
        const ms = await measureRtt(await this.o.node.openStream(peer.peerId, RTT_PROTOCOL, AbortSignal.timeout(10_000)));
        this.o.ledger.observeRtt(peer.peerId, ms);
      } catch (error) {
        this.o.log?.(`capacity: no round trip to ${peer.peerId}: ${(error as Error).message}`);
      }
    }
    this.cursor = servers.length > 0 ? (this.cursor + n) % servers.length : 0;
    const plan = this.o.route()?.plan;
    if (!plan) return;
    for (const stage of plan.stages) {
      if (this.stopped) return;
      const key = `${plan.model}:${stage.layers.start}-${stage.layers.end}`;
      const last = this.timed.get(stage.peerId);
      if (last && last.key === key && Date.now() - last.at < (this.o.retimeMs ?? 120_000)) continue;
      try {
        const speed = await this.timeStage(plan, stage);
        this.timed.set(stage.peerId, { key, at: Date.now() });
        this.o.ledger.observeSpeed(stage.peerId, speed, stageBytes(this.o.memory, stage.layers.start, stage.layers.end, false, false));
      } catch (error) {
        this.o.log?.(`capacity: timing ${stage.peerId}'s layers failed: ${(error as Error).message}`);
      }
    }
  }

  /** Decode tokens/s per layer through one stage, as the head sees it. */
  private async timeStage(plan: LayerPlan, stage: LayerPlan['stages'][number]): Promise<number> {
    const { width } = this.o;
    const remote = await RemoteStage.open({
      node: this.o.node,
      stage,
      model: plan.model,
      planEpoch: plan.epoch,
      sessionId: randomBytes(16),
      width,
      timeoutMs: 10_000,
    });
    let best = Infinity;
    try {
      const hidden = () => Float32Array.from({ length: width }, (_, i) => Math.sin(i + 1) * 0.5);
      await remote.extend(hidden(), 1, 0); // warm-up
      for (let i = 0; i < (this.o.frames ?? 4); i++) {
        const started = performance.now();
        await remote.extend(hidden(), 1, 0);
        best = Math.min(best, performance.now() - started);
      }
    } finally {
      await remote.close();
    }
    // The link's share: the smaller of the head's measurement and the peer's own claim, so a peer
    // cannot slow its echoes to make its compute look shorter.
    const claimed = this.o.node.memberList().find((m) => m.peerId === stage.peerId)?.state?.rttMs ?? 0;
    const link = Math.min(this.o.ledger.observedRtt(stage.peerId) ?? 0, claimed);
    const compute = Math.max(best - link, best * MIN_COMPUTE_SHARE, 0.001);
    return ((stage.layers.end - stage.layers.start) * 1000) / compute;
  }
}
