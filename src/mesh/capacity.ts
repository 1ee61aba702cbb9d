// What the head believes of a peer's capacity: gossiped claims (memory budget, layer speed, round
// trip) bounded to physical ranges and held to what the head itself observed. A peer's own word
// decides nothing it could win by lying: a speed counts at most the median claim until the head
// has timed the peer's layers, then at most three times what it timed (the head's timing carries
// framing the peer's own does not); a round trip counts at least what the head measured (the
// lower median of its last three measurements, once it has two: one busy moment is not a slow link). Memory
// cannot be measured from outside: a budget counts at most the median claim, or twice the largest
// stage the head has seen the peer run, so a claim of 2^50 bytes does not make it the one peer
// that holds the whole model; a peer that really has the memory earns it a doubling at a time.
// Where the held budgets cannot hold the model at all (peers of unequal memory, none proven yet),
// the coordinator plans on the claims (up to the 1 TiB bound) rather than leave the mesh unplanned.
// Honest peers within the margins keep their own numbers, so the plan each server recomputes
// (plan-check.ts) still matches bit for bit.
import type { PlannerPeer } from './planner.ts';
import { quantizeRtt, quantizeSpeed } from './planner.ts';

/** No peer lends more than this (1 TiB); larger claims are cut to it. */
export const MAX_BUDGET_BYTES = 2 ** 40;
/** Decode tokens/s through one layer: far above any device today (a tiny test layer on a CPU runs ~10^5). */
export const MAX_LAYER_SPEED = 1e7;
/**
 * A claimed speed may exceed what the head timed by this factor before it is held to the timing:
 * the head's timing carries framing and a worker hop the peer's own measurement does not, and
 * holding an honest peer down moves layers (a replan); a liar's 10^9 is held all the same.
 */
export const SPEED_MARGIN = 3;
/** A claimed round trip may undercut the measured one by this factor (and RTT_SLACK_MS) before it is held to it. */
export const RTT_MARGIN = 1.5;
export const RTT_SLACK_MS = 2;
/**
 * The head's last few round trips to a peer: it holds a claim to their lower median, and only once
 * it has two. One measurement taken while a tab loads its weights, or three browsers start at once
 * on two cores, can be hundreds of ms: held to it, the peer left the plan (above the round-trip
 * cap, or as a slow link) until the next round, 10 s later. A link that really is slow measures
 * slow twice in a row.
 */
export const RTT_WINDOW = 3;
export const RTT_MIN_SAMPLES = 2;
/** Until timed, a peer's speed counts at most this many times the median claim of the servers planned (1: it outranks nobody). */
export const UNTIMED_SPEED_FACTOR = 1;

export interface Held {
  readonly peerId: string;
  readonly field: 'memoryBudgetBytes' | 'layerTokensPerSecond' | 'rttMs';
  readonly claimed: number;
  readonly held: number;
  readonly why: string;
}

export class CapacityLedger {
  private readonly rtt = new Map<string, number[]>();
  private readonly speed = new Map<string, number>();
  /** The largest stage (bytes) the head timed each peer running. */
  private readonly proven = new Map<string, number>();
  private readonly heldNow = new Map<string, Held[]>();

  /** The head's own round-trip measurement to a peer (ms). */
  observeRtt(peerId: string, ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    const window = [...(this.rtt.get(peerId) ?? []), ms].slice(-RTT_WINDOW);
    this.rtt.set(peerId, window);
  }

  /** Layer speed the head timed through the peer's stage (decode tokens/s per layer, link time taken out), and that stage's bytes. */
  observeSpeed(peerId: string, layerTokensPerSecond: number, stageBytes = 0): void {
    if (Number.isFinite(layerTokensPerSecond) && layerTokensPerSecond > 0) this.speed.set(peerId, layerTokensPerSecond);
    if (Number.isFinite(stageBytes) && stageBytes > (this.proven.get(peerId) ?? 0)) this.proven.set(peerId, stageBytes);
  }

  /** The round trip the head holds the peer to: the lower median of its last RTT_WINDOW measurements, once it has RTT_MIN_SAMPLES. */
  observedRtt(peerId: string): number | undefined {
    const window = this.rtt.get(peerId) ?? [];
    return window.length >= RTT_MIN_SAMPLES ? medianOf(window) : undefined;
  }

  observedSpeed(peerId: string): number | undefined {
    return this.speed.get(peerId);
  }

  forget(peerId: string): void {
    this.rtt.delete(peerId);
    this.speed.delete(peerId);
    this.proven.delete(peerId);
    this.heldNow.delete(peerId);
  }

  /** Where the last `bound` held a peer below its claim, and why (the dashboard and logs say it). */
  held(peerId?: string): Held[] {
    return peerId === undefined ? [...this.heldNow.values()].flat() : (this.heldNow.get(peerId) ?? []);
  }

  /** The planner's input with every claim bounded: quantized the planner's way, so a recomputation agrees. */
  bound(peers: readonly PlannerPeer[], options: { readonly budgets?: boolean } = {}): PlannerPeer[] {
    const holdBudgets = options.budgets ?? true;
    const claims = peers.filter((p) => p.role === 'server' && p.layerTokensPerSecond > 0).map((p) => Math.min(p.layerTokensPerSecond, MAX_LAYER_SPEED));
    const median = medianOf(claims);
    const budgetMedian = medianOf(peers.filter((p) => p.role === 'server').map((p) => Math.min(p.memoryBudgetBytes, MAX_BUDGET_BYTES)));
    this.heldNow.clear();
    return peers.map((p) => {
      const held: Held[] = [];
      const hold = (field: Held['field'], claimed: number, value: number, why: string) => {
        held.push({ peerId: p.peerId, field, claimed, held: value, why });
        return value;
      };
      let budget = p.memoryBudgetBytes;
      const timed = this.speed.get(p.peerId);
      const earned = Math.max(budgetMedian ?? 0, 2 * (this.proven.get(p.peerId) ?? 0));
      if (holdBudgets && budget > earned && earned > 0 && earned < MAX_BUDGET_BYTES)
        budget = hold('memoryBudgetBytes', budget, earned, 'more than the median budget or twice the largest stage it ran');
      else if (budget > MAX_BUDGET_BYTES) budget = hold('memoryBudgetBytes', budget, MAX_BUDGET_BYTES, `over the ${MAX_BUDGET_BYTES}-byte bound`);
      let speed = p.layerTokensPerSecond;
      const claimed = Math.min(speed, MAX_LAYER_SPEED);
      if (timed !== undefined && claimed > timed * SPEED_MARGIN)
        speed = hold('layerTokensPerSecond', speed, quantizeSpeed(timed), 'faster than the head timed it');
      else if (timed === undefined && median !== undefined && claimed > median * UNTIMED_SPEED_FACTOR)
        speed = hold('layerTokensPerSecond', speed, quantizeSpeed(median * UNTIMED_SPEED_FACTOR), 'not timed yet: at most the median claim');
      else if (speed > MAX_LAYER_SPEED) speed = hold('layerTokensPerSecond', speed, quantizeSpeed(MAX_LAYER_SPEED), 'over the physical bound');
      let rtt = p.rttMs;
      const measured = this.observedRtt(p.peerId);
      if (measured !== undefined && rtt < measured / RTT_MARGIN - RTT_SLACK_MS)
        rtt = hold('rttMs', rtt, quantizeRtt(measured), 'shorter than the head measured it');
      if (held.length > 0) this.heldNow.set(p.peerId, held);
      return held.length === 0 ? p : { ...p, memoryBudgetBytes: budget, layerTokensPerSecond: speed, rttMs: rtt };
    });
  }
}

/** The lower median (an element of the list: quantized inputs stay quantized); undefined for none. */
function medianOf(values: readonly number[]): number | undefined {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length > 0 ? sorted[Math.floor((sorted.length - 1) / 2)] : undefined;
}
