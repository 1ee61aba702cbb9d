// What a tab knows of the layer plan its head gossips, for the UI: the latest plan (highest epoch)
// from a head, and which of its stages said they are ready (stage-ready gossip, or the held layers
// in a member's peer state). Plain data, so it travels in the mesh snapshot. A head serving several
// models gossips a plan for each: the one kept per model, and the view shows the plan this peer
// has a stage in, else the one that changed last.
import type { GossipMessage, PeerStateMessage } from '../../protocol/mesh-messages.ts';
import type { LayerPlan, LayerRange } from '../../protocol/mesh-plan.ts';
import type { PeerBackend } from '../../protocol/mesh-version.ts';

export interface PlanStageView {
  readonly peerId: string;
  readonly layers: LayerRange;
  readonly ready: boolean;
  /** What the stage runs on, as its peer state says (absent until gossiped, or from peers before it was said). */
  readonly backend?: PeerBackend;
}

export interface PlanView {
  readonly model: string;
  readonly layerCount: number;
  readonly epoch: number;
  readonly mode: LayerPlan['mode'];
  readonly stages: PlanStageView[];
}

export interface PlanWatchOptions {
  /** Whose plans count (the invite's bootstrap, the companion); default: any member's. */
  readonly isHead?: (peerId: string) => boolean;
}

const key = (peerId: string, model: string, layers: LayerRange) => `${peerId}|${model}|${layers.start}-${layers.end}`;

export class PlanWatch {
  private readonly o: PlanWatchOptions;
  /** The latest plan of each model, the one that changed last at the end. */
  private readonly plans = new Map<string, LayerPlan>();
  /** Stages that announced themselves ready, by peer, model and range (a replan keeping a range keeps it ready). */
  private readonly ready = new Set<string>();

  constructor(options: PlanWatchOptions = {}) {
    this.o = options;
  }

  /** Feeds one gossip message; true when the view changed. */
  onGossip(m: GossipMessage): boolean {
    if (m.type === 'layer-plan') {
      if (this.o.isHead && !this.o.isHead(m.peerId)) return false;
      const known = this.plans.get(m.plan.model);
      if (known && m.plan.epoch <= known.epoch) return false;
      this.plans.delete(m.plan.model);
      this.plans.set(m.plan.model, m.plan);
      return true;
    }
    if (m.type === 'stage-ready') {
      const k = key(m.peerId, m.model, m.layers);
      if (this.ready.has(k)) return false;
      this.ready.add(k);
      return true;
    }
    return false;
  }

  /** The head's latest plan itself: the one with a stage on `peerId` when given and there is one. */
  latest(peerId?: string): LayerPlan | undefined {
    const plans = [...this.plans.values()];
    return plans.find((p) => peerId !== undefined && p.stages.some((s) => s.peerId === peerId)) ?? plans.at(-1);
  }

  /**
   * The plan with each stage's readiness; `members` (their peer states) and `selfReady` (this
   * tab's own stage, which does not hear its own gossip) fill in stages whose stage-ready was missed.
   */
  view(
    members: readonly { peerId: string; state?: PeerStateMessage }[] = [],
    self?: { peerId: string; ready?: LayerRange; model?: string; backend?: PeerBackend },
  ): PlanView | undefined {
    const plan = this.latest(self?.peerId);
    if (!plan) return undefined;
    const held = new Set(this.ready);
    const backends = new Map<string, PeerBackend>();
    for (const m of members) {
      for (const h of m.state?.models ?? []) {
        if (h.layers) held.add(key(m.peerId, h.model, h.layers));
        if (h.layers && h.backend) backends.set(key(m.peerId, h.model, h.layers), h.backend);
      }
    }
    if (self?.ready && self.model) {
      held.add(key(self.peerId, self.model, self.ready));
      if (self.backend) backends.set(key(self.peerId, self.model, self.ready), self.backend);
    }
    return {
      model: plan.model,
      layerCount: plan.layerCount,
      epoch: plan.epoch,
      mode: plan.mode,
      stages: plan.stages.map((s) => {
        const k = key(s.peerId, plan.model, s.layers);
        const backend = backends.get(k);
        return { peerId: s.peerId, layers: s.layers, ready: held.has(k), ...(backend ? { backend } : {}) };
      }),
    };
  }
}
