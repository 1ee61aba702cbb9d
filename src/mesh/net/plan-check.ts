// A server's check of the plan its head gossips, before it loads its share: the plan must be what
// the shared planner computes from the basis sent with it, and the basis must describe this peer
// as it last gossiped itself, or as less (the head holds claims to what it observed). A head with another view of the mesh (a different planner version,
// stale or wrong state for this peer) is then caught: the peer refuses its share, says why, and
// keeps what it runs, rather than silently serving layers nobody else expects it to.
import type { PeerStateMessage } from '../../protocol/mesh-messages.ts';
import type { LayerPlan, PlanBasis } from '../../protocol/mesh-plan.ts';
import type { ModelMemory } from '../layer-memory.ts';
import { planLayers, quantizeRtt, quantizeSpeed } from '../planner.ts';

export type PlanCheck = { readonly ok: true } | { readonly ok: false; readonly reason: string };

const range = (p: LayerPlan) => p.stages.map((s) => `${s.peerId.slice(-6)}[${s.layers.start}-${s.layers.end - 1}]`).join(' → ');

/**
 * `recent`: this peer's own last few gossiped states (the head may have planned from any of them).
 * `memory`: the model's sizes as this peer reads them from the GGUF.
 */
export function checkPlan(
  plan: LayerPlan,
  basis: PlanBasis | undefined,
  selfPeerId: string,
  recent: readonly PeerStateMessage[],
  memory: ModelMemory,
): PlanCheck {
  if (!basis) return { ok: false, reason: 'the head sent the plan without its basis, so it cannot be checked' };
  const mine = basis.peers.find((p) => p.peerId === selfPeerId);
  if (!mine) return { ok: false, reason: 'the head planned from a state without this peer in it' };
  // The head may hold a claim down to what it observed (capacity.ts: less memory, a slower speed, a
  // longer round trip), never credit this peer with more than it said.
  const same = (s: PeerStateMessage) =>
    s.role === mine.role &&
    mine.memoryBudgetBytes <= s.memoryBudgetBytes &&
    quantizeSpeed(mine.layerTokensPerSecond) <= quantizeSpeed(s.layerTokensPerSecond) &&
    quantizeRtt(mine.rttMs) >= quantizeRtt(s.rttMs) &&
    quantizeSpeed(s.linkBytesPerSecond ?? 0) === quantizeSpeed(mine.linkBytesPerSecond ?? 0);
  if (!recent.some(same)) {
    const last = recent[recent.length - 1];
    const said = last
      ? `role ${last.role}, budget ${last.memoryBudgetBytes} B, ${quantizeSpeed(last.layerTokensPerSecond)} tokens/s per layer, round trip ${quantizeRtt(last.rttMs)} ms, link ${quantizeSpeed(last.linkBytesPerSecond ?? 0)} B/s`
      : 'nothing yet';
    return {
      ok: false,
      reason: `the head's view of this peer (role ${mine.role}, budget ${mine.memoryBudgetBytes} B, ${quantizeSpeed(mine.layerTokensPerSecond)} tokens/s per layer, round trip ${quantizeRtt(mine.rttMs)} ms, link ${quantizeSpeed(mine.linkBytesPerSecond ?? 0)} B/s) differs from what it gossiped (${said})`,
    };
  }
  const model = { id: plan.model, ...memory, ...(basis.countsHeadTail ? {} : { headBytes: 0, tailBytes: 0 }) };
  if (memory.layerCount !== plan.layerCount) return { ok: false, reason: `the plan has ${plan.layerCount} layers, the model file ${memory.layerCount}` };
  const result = planLayers(model, basis.peers, basis.previous, { rttCapMs: basis.rttCapMs, perLayerExtraBytes: basis.perLayerExtraBytes });
  if (!result.ok) return { ok: false, reason: `the planner finds no plan in the head's basis (${result.message})` };
  const want = result.plan;
  const agrees =
    want.epoch === plan.epoch &&
    want.mode === plan.mode &&
    want.head === plan.head &&
    want.tail === plan.tail &&
    JSON.stringify(want.stages) === JSON.stringify(plan.stages);
  if (!agrees)
    return {
      ok: false,
      reason: `the plan (epoch ${plan.epoch}: ${range(plan)}) is not what the planner computes from its basis (epoch ${want.epoch}: ${range(want)})`,
    };
  return { ok: true };
}
