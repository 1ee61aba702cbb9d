// Which server peers each model of a head that serves several may be planned on. Every server can
// fetch any model the head publishes (<app>/models/<id>.gguf), but a stage runs one model at a
// time, so the servers are shared out among the models first, and each model's plan (planner.ts,
// through its own coordinator) is computed over its share only. Rules, in order:
//  1. a peer in a model's last plan stays with that model (the first model given, should two claim it);
//  2. a peer whose gossiped state says it holds layers of a model goes to that model;
//  3. the rest, in peer-id order, each to the model whose share holds the least budget for its size
//     (ties: the order the models were given); never to a model of which it cannot hold one layer.
// Only gossiped state and the plans decide it, so every replan of every model sees the same shares.
import type { LayerPlan } from '../../protocol/mesh-plan.ts';
import { stageBytes, type ModelMemory } from '../layer-memory.ts';
import type { MemberView } from '../net/mesh-node.ts';
import type { PlannerPeer } from '../planner.ts';

export interface SharedModel {
  readonly id: string;
  readonly memory: ModelMemory;
  /** The model's last plan (its coordinator's), which keeps its stages with it. */
  readonly lastPlan: () => LayerPlan | undefined;
}

export class ModelShares {
  private readonly members: () => readonly MemberView[];
  private readonly models: readonly SharedModel[];

  constructor(members: () => readonly MemberView[], models: readonly SharedModel[]) {
    this.members = members;
    this.models = models;
  }

  /** Of `peers` (a coordinator's planner input), those the model's share holds. */
  peersFor(model: string, peers: readonly PlannerPeer[]): PlannerPeer[] {
    const shares = this.assign();
    return peers.filter((p) => shares.get(p.peerId) === model);
  }

  /** Peer id → model id, for every linked server member with gossiped state. */
  assign(): Map<string, string> {
    const servers = this.members()
      .filter((m) => m.state?.role === 'server' && m.links.length > 0)
      .map((m) => ({ peerId: m.peerId, budget: m.state!.memoryBudgetBytes, held: m.state!.models }));
    const ids = new Set(this.models.map((m) => m.id));
    const share = new Map<string, string>();
    for (const model of this.models) for (const stage of model.lastPlan()?.stages ?? []) if (!share.has(stage.peerId)) share.set(stage.peerId, model.id);
    for (const s of servers) {
      const held = s.held.find((h) => h.layers && ids.has(h.model));
      if (!share.has(s.peerId) && held) share.set(s.peerId, held.model);
    }
    const budget = new Map(this.models.map((m) => [m.id, 0]));
    const byId = new Map(servers.map((s) => [s.peerId, s]));
    for (const [peerId, model] of share) budget.set(model, budget.get(model)! + (byId.get(peerId)?.budget ?? 0));
    for (const s of servers) {
      if (share.has(s.peerId)) continue;
      let best: SharedModel | undefined;
      let bestRatio = Infinity;
      for (const m of this.models) {
        if (s.budget < oneLayerBytes(m.memory)) continue;
        const ratio = budget.get(m.id)! / wholeBytes(m.memory);
        if (ratio < bestRatio) {
          best = m;
          bestRatio = ratio;
        }
      }
      if (!best) continue;
      share.set(s.peerId, best.id);
      budget.set(best.id, budget.get(best.id)! + s.budget);
    }
    return share;
  }
}

/** The layers and what every stage needs: a head that embeds and samples itself puts no head or tail tensors on its stages. */
function wholeBytes(m: ModelMemory): number {
  return Math.max(1, stageBytes(m, 0, m.layerCount, false, false));
}

function oneLayerBytes(m: ModelMemory): number {
  return m.sharedBytes + Math.min(...m.layerBytes);
}
