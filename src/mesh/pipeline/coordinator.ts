// The head's view of the pipeline: computes the layer plan with the shared planner from the server
// peers' gossiped state (budget, speed, round trip), gossips it with what it was computed from (its
// basis: each server recomputes the plan and checks it, net/plan-check.ts) so each server loads its range,
// tracks which stages reported ready, and hands out a route (a ready plan) for each new session.
// The head itself embeds and computes logits (it holds the whole model to serve alone), so the
// planner counts no head or tail tensors against the servers' budgets.
import type { GossipMessage } from '../../protocol/mesh-messages.ts';
import type { LayerPlan, PlanBasis, PlanExclusion } from '../../protocol/mesh-plan.ts';
import type { Held } from '../capacity.ts';
import type { ModelMemory } from '../layer-memory.ts';
import type { MeshNode } from '../net/mesh-node.ts';
import { DEFAULT_RTT_CAP_MS, planLayers, type PlannerOptions, type PlannerPeer } from '../planner.ts';

export interface CoordinatorOptions {
  readonly node: MeshNode;
  readonly model: { readonly id: string; readonly memory: ModelMemory };
  readonly planner?: PlannerOptions;
  /** How often the current plan is gossiped again (for peers that joined since). */
  readonly republishMs?: number;
  /**
   * How long a peer that failed mid-session first stays out of plans: doubled for each failure
   * that follows within a minute, up to a minute. A stream that timed out on a loaded machine
   * costs a few seconds; a peer that keeps failing stays out.
   */
  readonly failedForMs?: number;
  /** Bounds gossiped claims by what the head observed before they are planned on (capacity.ts); default: claims as gossiped. */
  readonly capacity?: {
    bound(peers: readonly PlannerPeer[], options?: { readonly budgets?: boolean }): PlannerPeer[];
    /** Where the last bound held a peer below its claim (said in the log when no plan fits). */
    held?(): readonly Held[];
  };
  /** Of the servers, those this model may be planned on (a head serving several models shares them out: model-shares.ts). */
  readonly peerFilter?: (peers: readonly PlannerPeer[]) => readonly PlannerPeer[];
  readonly log?: (line: string) => void;
}

export interface Route {
  readonly plan: LayerPlan;
}

const rangeKey = (model: string, start: number, end: number) => `${model}:${start}-${end}`;

/** `; left out: …` for the log: each peer the planner excluded and why, with the claims the head held it below. */
function whyOut(excluded: readonly PlanExclusion[], fed: readonly PlannerPeer[], held: readonly Held[] = []): string {
  const out = excluded.map((e) => {
    const p = fed.find((x) => x.peerId === e.peerId);
    const facts = p ? [`round trip ${p.rttMs} ms`, `budget ${p.memoryBudgetBytes} B`] : [];
    const h = held.filter((x) => x.peerId === e.peerId).map((x) => `${x.field} ${x.claimed} held at ${x.held}: ${x.why}`);
    return `${e.peerId.slice(-6)} ${e.reason} (${[...facts, ...h].join('; ')})`;
  });
  return out.length > 0 ? `; left out: ${out.join(', ')}` : '';
}

/**
 * Peers the planner is fed at most. The plan's basis (every peer fed to it, and the plan before)
 * travels in one gossip message (MAX_GOSSIP_BYTES): about 200 peers would overflow it. Past this,
 * peers of the previous plan come first, then servers, so strangers flooding a mesh cannot push
 * the stages already serving out of the plan.
 */
export const MAX_PLANNED_PEERS = 64;

const DEFAULT_FAILED_FOR_MS = 5000;
const MAX_FAILED_FOR_MS = 60_000;

interface Failure {
  /** Out of plans until then. */
  readonly until: number;
  /** Failures in a row (each within MAX_FAILED_FOR_MS of the last). */
  readonly strikes: number;
  readonly at: number;
}

export class PipelineCoordinator {
  private readonly o: CoordinatorOptions;
  private plan: LayerPlan | undefined;
  /** What `plan` was computed from (the latest computation that gave it). */
  private basis: PlanBasis | undefined;
  /** The last plan that existed, kept as `previous` so the next one moves as few layers as possible. */
  private previous: LayerPlan | undefined;
  /**
   * Each peer's latest stage-ready report (range key, plan epoch): a peer holds one stage at a time,
   * so older reports are void, and one from before the plan last moved the peer's range says
   * nothing of what it holds now (it may have loaded the range between).
   */
  private readonly ready = new Map<string, { readonly key: string; readonly epoch: number }>();
  /** Per peer, its range in the plans and the epoch since which every plan that placed it gave it that range. */
  private readonly assigned = new Map<string, { readonly key: string; readonly since: number }>();
  /**
   * Per peer that joined again (a reloaded tab keeps its peer id, and its member entry keeps the last
   * state gossiped before): the seq of that state. The held layers it names were the old page's.
   */
  private readonly staleSeq = new Map<string, number>();
  private readonly failed = new Map<string, Failure>();
  private readonly waiters = new Set<() => void>();
  private readonly unlisten: Array<() => void> = [];
  private timer: ReturnType<typeof setInterval> | undefined;
  /** The last gossiped state (seq) heard from each planned stage not ready yet (see replan). */
  private readonly heardFrom = new Map<string, number>();

  constructor(options: CoordinatorOptions) {
    this.o = options;
  }

  get modelId(): string {
    return this.o.model.id;
  }

  start(): void {
    this.unlisten.push(this.o.node.addGossipListener((m) => this.onGossip(m)));
    this.unlisten.push(this.o.node.addChangeListener(() => this.replan()));
    // A late joiner gets the plan at once, not at the next republish.
    this.unlisten.push(
      this.o.node.addJoinListener((peerId) => {
        this.joined(peerId);
        void this.publish().catch(this.publishFailed);
      }),
    );
    this.timer = setInterval(() => {
      this.replan();
      void this.publish().catch(this.publishFailed);
    }, this.o.republishMs ?? 2000);
    this.replan();
  }

  stop(): void {
    clearInterval(this.timer);
    for (const u of this.unlisten.splice(0)) u();
    for (const w of this.waiters) w();
  }

  currentPlan(): LayerPlan | undefined {
    return this.plan;
  }

  /** The last plan there was (kept while no plan fits): its stages stay with this model when peers are shared out. */
  lastPlan(): LayerPlan | undefined {
    return this.previous;
  }

  /** What the current plan was computed from (gossiped with it). */
  currentBasis(): PlanBasis | undefined {
    return this.basis;
  }

  /** A plan whose every stage is linked and has reported its layers loaded, or undefined. */
  route(): Route | undefined {
    const plan = this.plan;
    if (!plan) return undefined;
    const linked = new Set(
      this.o.node
        .memberList()
        .filter((m) => m.links.length > 0)
        .map((m) => m.peerId),
    );
    const ok = plan.stages.every((s) => linked.has(s.peerId) && this.isReady(s.peerId, rangeKey(plan.model, s.layers.start, s.layers.end)));
    return ok ? { plan } : undefined;
  }

  /** Resolves with a route as soon as one is ready, or undefined after `timeoutMs`. */
  async waitForRoute(timeoutMs: number, signal?: AbortSignal): Promise<Route | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const route = this.route();
      if (route || Date.now() >= deadline || signal?.aborted) return route;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(250, deadline - Date.now()));
        const waiters = this.waiters;
        function done() {
          clearTimeout(timer);
          waiters.delete(done);
          resolve();
        }
        waiters.add(done);
      });
    }
  }

  /** A stage failed mid-session: plan without it (it comes back when it reconnects after the cool-off). */
  /** `forMs`: a fixed time out (a stage that failed a check is quarantined, not cooled off). */
  markFailed(peerId: string, why = 'failed', forMs?: number): void {
    const now = Date.now();
    const last = this.failed.get(peerId);
    const strikes = last && now - last.at < MAX_FAILED_FOR_MS ? last.strikes + 1 : 1;
    const outMs = forMs ?? Math.min(MAX_FAILED_FOR_MS, (this.o.failedForMs ?? DEFAULT_FAILED_FOR_MS) * 2 ** (strikes - 1));
    this.failed.set(peerId, { until: now + outMs, strikes, at: now });
    this.ready.delete(peerId);
    this.o.log?.(`pipeline: ${peerId} left the plan for ${Math.round(outMs / 1000)} s (${why}); replanning without it`);
    this.replan();
  }

  /** In its cool-off after a failure. */
  private isOut(peerId: string): boolean {
    return (this.failed.get(peerId)?.until ?? 0) > Date.now();
  }

  private isReady(peerId: string, key: string): boolean {
    const reported = this.ready.get(peerId);
    if (reported !== undefined && reported.epoch >= (this.assigned.get(peerId)?.since ?? 0)) return reported.key === key;
    const state = this.o.node.memberList().find((m) => m.peerId === peerId)?.state;
    if (!state || state.seq <= (this.staleSeq.get(peerId) ?? -1)) return false;
    return state.models.some((h) => h.layers && rangeKey(h.model, h.layers.start, h.layers.end) === key);
  }

  /**
   * A member (re)joined the topic: what it reported ready before, and the layers its last state
   * named, belong to its previous page (a tab reloading keeps its peer id) until it says so again.
   */
  private joined(peerId: string): void {
    if (this.ready.has(peerId)) this.o.log?.(`pipeline: ${peerId.slice(-6)} joined the topic again: its earlier stage-ready no longer counts`);
    this.ready.delete(peerId);
    const seq = this.o.node.memberList().find((m) => m.peerId === peerId)?.state?.seq;
    if (seq !== undefined) this.staleSeq.set(peerId, seq);
    this.wake();
  }

  private onGossip(m: GossipMessage): void {
    if (m.type !== 'stage-ready' || this.isOut(m.peerId)) return;
    // Gossip can arrive out of order: a report for an older plan does not replace a newer one.
    if (m.planEpoch < (this.ready.get(m.peerId)?.epoch ?? -1)) return;
    this.ready.set(m.peerId, { key: rangeKey(m.model, m.layers.start, m.layers.end), epoch: m.planEpoch });
    this.o.log?.(`pipeline: ${m.peerId.slice(-6)} ready with ${m.model} layers ${m.layers.start}-${m.layers.end - 1} (plan ${m.planEpoch})`);
    this.wake();
  }

  /** The planner's input: linked server members with gossiped state, minus recent failures. */
  private peers(holdBudgets = true): PlannerPeer[] {
    const now = Date.now();
    // A failure is forgotten a while after its cool-off, so the next one starts from the base again.
    for (const [peerId, f] of this.failed) if (now - f.at >= MAX_FAILED_FOR_MS && f.until <= now) this.failed.delete(peerId);
    const members = this.o.node.memberList();
    // A peer that left holds nothing any more: should it come back (a tab reloading keeps its peer
    // id), its earlier stage-ready must not make a stage it has not loaded yet look ready.
    for (const m of members) if (m.links.length === 0) this.ready.delete(m.peerId);
    const planned = new Set(this.previous?.stages.map((s) => s.peerId));
    const rank = (m: (typeof members)[number]) => (planned.has(m.peerId) ? 0 : m.state?.role === 'server' ? 1 : 2);
    const candidates = members
      .filter((m) => m.state && m.links.length > 0 && !this.isOut(m.peerId))
      .sort((a, b) => rank(a) - rank(b))
      .map((m) => ({
        peerId: m.peerId,
        role: m.state!.role,
        memoryBudgetBytes: m.state!.memoryBudgetBytes,
        layerTokensPerSecond: m.state!.layerTokensPerSecond,
        rttMs: m.state!.rttMs,
        ...(m.state!.linkBytesPerSecond ? { linkBytesPerSecond: m.state!.linkBytesPerSecond } : {}),
      }));
    // Claims bounded before models share the servers out: a liar's 2^50 bytes must not win a share either.
    const bounded = this.o.capacity ? this.o.capacity.bound(candidates, { budgets: holdBudgets }) : candidates;
    return (this.o.peerFilter ? this.o.peerFilter(bounded) : bounded).slice(0, MAX_PLANNED_PEERS);
  }

  private replan(): void {
    const { id, memory } = this.o.model;
    const previous = this.previous;
    const model = { id, ...memory, headBytes: 0, tailBytes: 0 };
    let peers = this.peers();
    let result = planLayers(model, peers, previous, this.o.planner);
    if (!result.ok && result.code === 'insufficient_memory' && this.o.capacity) {
      // Budgets held down to the median must not leave the memory of a mesh of unequal peers idle:
      // where the held budgets cannot hold the model, the claims are planned on (a liar then gets
      // layers it must load, and its work is checked like anyone's: stage-check.ts).
      const claimed = this.peers(false);
      const retry = planLayers(model, claimed, previous, this.o.planner);
      if (retry.ok) [peers, result] = [claimed, retry];
    }
    const next = result.ok ? result.plan : undefined;
    const changed = JSON.stringify(next?.stages) !== JSON.stringify(this.plan?.stages);
    this.plan = next;
    this.basis = next && {
      peers,
      ...(previous ? { previous } : {}),
      rttCapMs: this.o.planner?.rttCapMs ?? DEFAULT_RTT_CAP_MS,
      perLayerExtraBytes: this.o.planner?.perLayerExtraBytes ?? 0,
      countsHeadTail: false,
    };
    if (next) {
      this.previous = next;
      for (const s of next.stages) {
        const key = rangeKey(next.model, s.layers.start, s.layers.end);
        if (this.assigned.get(s.peerId)?.key !== key) this.assigned.set(s.peerId, { key, since: next.epoch });
      }
    }
    if (changed) {
      this.o.log?.(
        next
          ? `pipeline: plan ${next.epoch} for ${id}: ${next.stages.map((s) => `${s.peerId.slice(-6)}[${s.layers.start}-${s.layers.end - 1}]`).join(' → ')}`
          : `pipeline: no plan for ${id}${result.ok ? '' : ` (${result.message}${whyOut(result.excluded, peers, this.o.capacity?.held?.())}${this.unplannable()})`}`,
      );
      if (next) void this.publish().catch(this.publishFailed);
    } else if (next && this.unreadyStateArrived(next)) {
      // A stage that has not loaded its range gossiped: it may have missed the plan (a tab coming
      // back under its old peer id is planned from its last state before it hears the topic), so
      // it gets the plan now rather than at the next republish.
      void this.publish().catch(this.publishFailed);
    }
    this.wake();
  }

  /** `; not planned: …` for the log: servers the planner was not fed (no link now, or cooling off after a failure). */
  private unplannable(): string {
    const out = this.o.node
      .memberList()
      .filter((m) => m.state?.role === 'server' && (m.links.length === 0 || this.isOut(m.peerId)))
      .map((m) => `${m.peerId.slice(-6)} ${m.links.length === 0 ? 'unlinked' : 'cooling off'}`);
    return out.length > 0 ? `; not planned: ${out.join(', ')}` : '';
  }

  /** True when a stage of `plan` that has not reported ready gossiped a state not seen before. */
  private unreadyStateArrived(plan: LayerPlan): boolean {
    const members = new Map(this.o.node.memberList().map((m) => [m.peerId, m.state]));
    let arrived = false;
    for (const s of plan.stages) {
      const state = members.get(s.peerId);
      if (!state || this.isReady(s.peerId, rangeKey(plan.model, s.layers.start, s.layers.end)) || this.heardFrom.get(s.peerId) === state.seq) continue;
      this.heardFrom.set(s.peerId, state.seq);
      arrived = true;
    }
    return arrived;
  }

  private async publish(): Promise<void> {
    const { plan, basis } = this;
    if (plan) await this.o.node.publish({ type: 'layer-plan', plan, ...(basis ? { basis } : {}) });
  }

  private readonly publishFailed = (error: unknown): void => {
    this.o.log?.(`pipeline: gossiping plan ${this.plan?.epoch} failed: ${(error as Error).message}`);
  };

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}
