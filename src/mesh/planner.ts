// Deterministic layer planning from the shared peer table: every peer runs this on the same
// gossiped state (peers and the previous plan) and gets the same plan, so no leader is needed.
//
// Rules, in order:
//  1. Only servers within the round-trip cap that can hold at least one layer take part. A peer of
//     the previous plan stays until its round trip passes the cap by half again (hysteresis), so
//     a round trip jittering around the cap does not move layers back and forth.
//  2. Solo when one of them can hold the whole model: keep the current solo peer if it still fits,
//     else prefer the peer already holding most of the layers, then the fastest, then by peer id.
//  3. Otherwise, if a pipeline plan exists for the model, change it as little as possible: the
//     layers of peers that left go to their neighbours (split in proportion to speed, so a leave
//     changes at most the two neighbours' ranges); a joiner takes a speed-proportional slice from
//     the most loaded stage (so a join changes one existing range).
//  4. Otherwise (or when that does not fit), a fresh plan: contiguous ranges in peer-id order,
//     sizes proportional to measured speed and capped by each budget.
// Links count too (link-cost.ts): each peer's measured round trip and throughput to the head make a
// per-token cost. The solo peer is the one with the lowest estimated token time (compute plus link);
// a peer whose link is slow beside the others' (a tab on a relayed link among native peers on QUIC)
// is left out of a fresh plan, or replaced as the solo peer, whenever a plan without it fits and is
// estimated faster; a joiner on a slow link takes no slice. Such a peer is excluded as slow_link,
// which (unlike no_share) it leaves as soon as its link measures better.
// Inputs are quantized first (speeds to the E12 series, round trips to whole milliseconds), so
// measurement jitter between two gossiped states rarely changes a fresh plan; quantizing uses only
// IEEE-exact operations (no Math.log), so every JavaScript engine gets the same numbers.
// Strings compare by code unit (never localeCompare) so all peers sort alike.
import { MeshError } from '../protocol/errors.ts';
import type { ExclusionReason, LayerPlan, PlanExclusion, PlanStage } from '../protocol/mesh-plan.ts';
import type { PeerRole } from '../protocol/mesh-version.ts';
import { stageBytes, type ModelMemory } from './layer-memory.ts';
import { linkCosts, slowLinks } from './link-cost.ts';

export interface PlannerPeer {
  readonly peerId: string;
  readonly role: PeerRole;
  readonly memoryBudgetBytes: number;
  /** Decode tokens per second through one layer (net/layer-speed.ts); 0 when not measured yet: such a peer counts as the median of the measured ones. */
  readonly layerTokensPerSecond: number;
  /** Round trip to the head as the peer measured and gossiped it (the same number for every planner); Infinity: unknown, never planned. */
  readonly rttMs: number;
  /** Throughput of its link to the head (bytes/s, net/rtt-stream.ts) as gossiped; 0 or absent: not measured (counts as the median). */
  readonly linkBytesPerSecond?: number;
}

export interface PlannerModel extends ModelMemory {
  readonly id: string;
}

export interface PlannerOptions {
  readonly rttCapMs?: number;
  /** KV cache and activations per layer, on top of the weights. */
  readonly perLayerExtraBytes?: number;
}

export const DEFAULT_RTT_CAP_MS = 250;
/** A peer already in the plan is left out only above cap × this. */
export const RTT_HYSTERESIS = 1.5;

/** E12 preferred numbers (×10): about 21% apart, so a speed measured ±10% mostly stays in its step. */
const E12 = [10, 12, 15, 18, 22, 27, 33, 39, 47, 56, 68, 82, 100];

/**
 * A measured speed on the E12 steps (0, negative or non-finite: 0, "not measured"). Peers publish
 * speeds quantized this way and the planner quantizes again, so both agree whatever they are fed.
 */
export function quantizeSpeed(x: number): number {
  if (!(x > 0) || !Number.isFinite(x)) return 0;
  // Scale into [10, 100) by powers of ten (exact steps: multiply/divide by 10 are IEEE operations).
  let scale = 1;
  let m = x;
  while (m >= 100) {
    m /= 10;
    scale *= 10;
  }
  while (m < 10) {
    m *= 10;
    scale /= 10;
  }
  // Nearest step by geometric midpoint: a < m·m compared against a·b, no square roots.
  let step = E12[E12.length - 1];
  for (let i = 0; i < E12.length - 1; i++) {
    if (m * m < E12[i] * E12[i + 1]) {
      step = E12[i];
      break;
    }
  }
  const value = step * scale;
  // Round away the representation noise of scale (e.g. 12 · 0.1) to 3 significant digits.
  return Number(value.toPrecision(3));
}

/** A round trip in whole milliseconds (under 1 ms: tenths); not finite or negative: Infinity, never within a cap. */
export function quantizeRtt(ms: number): number {
  if (!(ms >= 0) || !Number.isFinite(ms)) return Infinity;
  return ms < 1 ? Math.round(ms * 10) / 10 : Math.round(ms);
}

export type PlanResult =
  | { readonly ok: true; readonly plan: LayerPlan }
  | { readonly ok: false; readonly code: 'no_servers' | 'insufficient_memory'; readonly message: string; readonly excluded: readonly PlanExclusion[] };

interface Slot {
  readonly peer: PlannerPeer;
  start: number;
  end: number;
}

const byId = (a: { peerId: string }, b: { peerId: string }) => (a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0);

export function planLayers(model: PlannerModel, peers: readonly PlannerPeer[], previous?: LayerPlan, options: PlannerOptions = {}): PlanResult {
  const ids = new Set(peers.map((p) => p.peerId));
  if (ids.size !== peers.length) throw new MeshError('plan_duplicate_peer', 'the peer table lists a peer twice; merge entries by peer id before planning');
  const fit = new Fit(model, options.perLayerExtraBytes ?? 0);
  const cap = options.rttCapMs ?? DEFAULT_RTT_CAP_MS;
  const planned = new Set(previous?.model === model.id ? previous.stages.map((s) => s.peerId) : []);
  const reasons = new Map<string, ExclusionReason>();
  const eligible: PlannerPeer[] = [];
  for (const raw of [...peers].sort(byId)) {
    const p: PlannerPeer = {
      ...raw,
      layerTokensPerSecond: quantizeSpeed(raw.layerTokensPerSecond),
      rttMs: quantizeRtt(raw.rttMs),
      linkBytesPerSecond: quantizeSpeed(raw.linkBytesPerSecond ?? 0),
    };
    if (p.role !== 'server') reasons.set(p.peerId, 'client_role');
    else if (!(p.rttMs <= (planned.has(p.peerId) ? cap * RTT_HYSTERESIS : cap))) reasons.set(p.peerId, 'rtt_above_cap');
    else if (fit.layers(p, false, false) < 1) reasons.set(p.peerId, 'below_one_layer');
    else eligible.push(p);
  }
  const excludedList = () => [...reasons].map(([peerId, reason]) => ({ peerId, reason })).sort(byId);
  if (eligible.length === 0)
    return {
      ok: false,
      code: 'no_servers',
      message: 'no server peer can take part: lend a tab or the companion, or raise a memory budget',
      excluded: excludedList(),
    };
  const speed = speeds(eligible);
  const usable = previous && previous.model === model.id && previous.layerCount === model.layerCount ? previous : undefined;
  const cost = new Cost(speed, eligible);

  const slots = choose(model, fit, eligible, cost, usable);
  if (!slots)
    return {
      ok: false,
      code: 'insufficient_memory',
      message: `the taking-part peers cannot hold all ${model.layerCount} layers of ${model.id} within their memory budgets: add peers or raise budgets`,
      excluded: excludedList(),
    };
  // A slow link is left out for as long as it is slow (not sticky as no_share is): it joins once it measures better.
  for (const p of eligible) if (!slots.some((s) => s.peer === p)) reasons.set(p.peerId, cost.slow.has(p) ? 'slow_link' : 'no_share');
  const stages: PlanStage[] = slots.map((s) => ({ peerId: s.peer.peerId, layers: { start: s.start, end: s.end }, shard: { kind: 'dense' } }));
  const same = usable !== undefined && sameStages(usable.stages, stages);
  return {
    ok: true,
    plan: {
      model: model.id,
      layerCount: model.layerCount,
      epoch: usable ? usable.epoch + (same ? 0 : 1) : (previous?.epoch ?? -1) + 1,
      mode: stages.length === 1 ? 'solo' : 'pipeline',
      stages,
      head: stages[0].peerId,
      tail: stages[stages.length - 1].peerId,
      excluded: excludedList(),
    },
  };
}

/** Memory checks with prefix sums; `layers` is conservative (largest layer) for sizing shares. */
class Fit {
  private readonly model: ModelMemory;
  private readonly extra: number;
  private readonly largest: number;

  constructor(model: ModelMemory, extra: number) {
    this.model = model;
    this.extra = extra;
    this.largest = Math.max(0, ...model.layerBytes) + extra;
  }

  /** How many layers the peer can surely hold in that position. */
  layers(p: PlannerPeer, head: boolean, tail: boolean): number {
    const free = p.memoryBudgetBytes - stageBytes(this.model, 0, 0, head, tail);
    if (free < 0) return 0;
    return this.largest === 0 ? this.model.layerCount : Math.min(this.model.layerCount, Math.floor(free / this.largest));
  }

  range(p: PlannerPeer, start: number, end: number, head: boolean, tail: boolean): boolean {
    return stageBytes(this.model, start, end, head, tail, this.extra) <= p.memoryBudgetBytes;
  }
}

/** Measured speed, with unmeasured peers counted at the median of the measured (or all equal). */
function speeds(peers: readonly PlannerPeer[]): Map<PlannerPeer, number> {
  const measured = peers
    .map((p) => p.layerTokensPerSecond)
    .filter((s) => s > 0 && Number.isFinite(s))
    .sort((a, b) => a - b);
  const median = measured.length === 0 ? 1 : measured[Math.floor((measured.length - 1) / 2)];
  return new Map(peers.map((p) => [p, p.layerTokensPerSecond > 0 && Number.isFinite(p.layerTokensPerSecond) ? p.layerTokensPerSecond : median]));
}

/** Solo, else the previous plan changed as little as possible, else fresh; a slow link only where nothing faster fits. */
function choose(model: PlannerModel, fit: Fit, eligible: readonly PlannerPeer[], cost: Cost, usable: LayerPlan | undefined): Slot[] | undefined {
  const fast = eligible.filter((p) => !cost.slow.has(p));
  const one = solo(model, fit, eligible, cost, usable);
  if (one) {
    if (!cost.slow.has(one[0].peer) || fast.length === eligible.length) return one;
    const without = solo(model, fit, fast, cost, usable) ?? fresh(model, fit, fast, cost.speed);
    return without && cost.planMs(without) <= cost.planMs(one) ? without : one;
  }
  const kept = usable && incremental(model, fit, eligible, cost, usable);
  if (kept) return kept;
  const all = fresh(model, fit, eligible, cost.speed);
  if (fast.length === eligible.length || !all) return all;
  const without = fresh(model, fit, fast, cost.speed);
  return without && cost.planMs(without) <= cost.planMs(all) ? without : all;
}

/** Estimated token times: compute (layers over speed) plus each stage's link, compared on E12 steps so near-ties stay ties. */
class Cost {
  readonly speed: Map<PlannerPeer, number>;
  readonly slow: Set<PlannerPeer>;
  private readonly links: Map<PlannerPeer, number>;

  constructor(speed: Map<PlannerPeer, number>, eligible: readonly PlannerPeer[]) {
    this.speed = speed;
    this.links = linkCosts(eligible);
    this.slow = slowLinks(this.links);
  }

  stageMs(p: PlannerPeer, layers: number): number {
    return (layers * 1000) / this.speed.get(p)! + this.links.get(p)!;
  }

  planMs(slots: readonly Slot[]): number {
    return quantizeSpeed(slots.reduce((ms, s) => ms + this.stageMs(s.peer, s.end - s.start), 0));
  }
}

function solo(model: PlannerModel, fit: Fit, eligible: readonly PlannerPeer[], cost: Cost, previous?: LayerPlan): Slot[] | undefined {
  const n = model.layerCount;
  const able = eligible.filter((p) => fit.range(p, 0, n, true, true));
  if (able.length === 0) return undefined;
  const held = (p: PlannerPeer) => (previous?.stages ?? []).filter((s) => s.peerId === p.peerId).reduce((k, s) => k + s.layers.end - s.layers.start, 0);
  const time = (p: PlannerPeer) => quantizeSpeed(cost.stageMs(p, n));
  const best = [...able].sort((a, b) => held(b) - held(a) || time(a) - time(b) || byId(a, b))[0];
  return [{ peer: best, start: 0, end: n }];
}

function fresh(model: PlannerModel, fit: Fit, eligible: readonly PlannerPeer[], speed: Map<PlannerPeer, number>): Slot[] | undefined {
  let pool = [...eligible];
  while (pool.length >= 2) {
    const order = arrange(fit, pool);
    if (!order) return undefined;
    const caps = order.map((p, i) => fit.layers(p, i === 0, i === order.length - 1));
    const counts = shares(
      model.layerCount,
      order.map((p) => speed.get(p)!),
      caps,
    );
    if (!counts) return undefined;
    const idle = order.filter((_, i) => counts[i] === 0);
    if (idle.length > 0) {
      pool = pool.filter((p) => !idle.includes(p));
      continue;
    }
    let at = 0;
    return order.map((peer, i) => ({ peer, start: at, end: (at += counts[i]) }));
  }
  return undefined;
}

/** Peer-id order, except that the head and tail positions go to peers that can hold their extra tensors. */
function arrange(fit: Fit, pool: readonly PlannerPeer[]): PlannerPeer[] | undefined {
  const head = pool.find((p) => fit.layers(p, true, false) >= 1);
  const tail = [...pool].reverse().find((p) => p !== head && fit.layers(p, false, true) >= 1);
  if (!head || !tail) return undefined;
  return [head, ...pool.filter((p) => p !== head && p !== tail), tail];
}

/** Integer shares of `total` proportional to `weights`, none above its cap; largest remainders round up. */
export function shares(total: number, weights: readonly number[], caps: readonly number[]): number[] | undefined {
  if (caps.reduce((a, b) => a + b, 0) < total) return undefined;
  const exact = new Array<number>(weights.length).fill(0);
  const fixed = new Array<boolean>(weights.length).fill(false);
  let left = total;
  for (;;) {
    const free = weights.map((_, i) => i).filter((i) => !fixed[i]);
    const sum = free.reduce((a, i) => a + weights[i], 0);
    let capped = false;
    for (const i of free) {
      exact[i] = sum > 0 ? (left * weights[i]) / sum : left / free.length;
      if (exact[i] > caps[i]) {
        fixed[i] = true;
        exact[i] = caps[i];
        left -= caps[i];
        capped = true;
      }
    }
    if (!capped) break;
  }
  const counts = exact.map((x, i) => Math.min(caps[i], Math.floor(x)));
  let rest = total - counts.reduce((a, b) => a + b, 0);
  const order = exact.map((_, i) => i).sort((a, b) => exact[b] - counts[b] - (exact[a] - counts[a]) || a - b);
  for (const i of order) {
    if (rest === 0) break;
    if (counts[i] < caps[i]) {
      counts[i]++;
      rest--;
    }
  }
  return rest === 0 ? counts : undefined;
}

function incremental(model: PlannerModel, fit: Fit, eligible: readonly PlannerPeer[], cost: Cost, previous: LayerPlan): Slot[] | undefined {
  const { speed } = cost;
  if (previous.mode !== 'pipeline' || previous.stages.some((s) => s.shard.kind !== 'dense')) return undefined;
  const byPeer = new Map(eligible.map((p) => [p.peerId, p]));
  const slots: Slot[] = [];
  let gapStart = -1;
  for (const stage of previous.stages) {
    const peer = byPeer.get(stage.peerId);
    if (!peer) {
      if (gapStart < 0) gapStart = stage.layers.start;
      continue;
    }
    const slot: Slot = { peer, start: stage.layers.start, end: stage.layers.end };
    if (gapStart >= 0 && !fillGap(fit, speed, slots[slots.length - 1], slot, gapStart)) return undefined;
    gapStart = -1;
    slots.push(slot);
  }
  if (slots.length === 0) return undefined;
  if (gapStart >= 0) slots[slots.length - 1].end = model.layerCount;
  const last = slots.length - 1;
  if (!slots.every((s, i) => fit.range(s.peer, s.start, s.end, i === 0, i === last))) return undefined;

  // Peers the previous plan left out for too small a share stay out, or every replan would move
  // layers to them; a joiner that gets no slice now is left out the same way.
  const joiners = eligible.filter(
    (p) =>
      !cost.slow.has(p) &&
      !previous.stages.some((s) => s.peerId === p.peerId) &&
      !previous.excluded.some((e) => e.peerId === p.peerId && e.reason === 'no_share'),
  );
  for (const joiner of joiners) join(fit, speed, slots, joiner);
  return slots.length >= 2 ? slots : undefined;
}

/** Gives layers gapStart…right.start-1 to `left` and `right` in proportion to speed, within their budgets. */
function fillGap(fit: Fit, speed: Map<PlannerPeer, number>, left: Slot | undefined, right: Slot, gapStart: number): boolean {
  if (!left) {
    right.start = gapStart;
    return true;
  }
  const n = right.start - gapStart;
  const leftHead = left.start === 0;
  // Room in layers: right's tail status is unknown here, so count it conservatively as not tail and re-check the whole plan after.
  const roomLeft = Math.max(0, fit.layers(left.peer, leftHead, false) - (left.end - left.start));
  const roomRight = Math.max(0, fit.layers(right.peer, false, false) - (right.end - right.start));
  const sl = speed.get(left.peer)!;
  const sr = speed.get(right.peer)!;
  const wanted = Math.round((n * sl) / (sl + sr));
  const toLeft = Math.min(roomLeft, Math.max(n - roomRight, wanted));
  if (toLeft < 0 || n - toLeft > roomRight) return false;
  left.end = gapStart + toLeft;
  right.start = left.end;
  return true;
}

/** The joiner takes a slice of the most loaded stage (layers per speed), next to it. */
function join(fit: Fit, speed: Map<PlannerPeer, number>, slots: Slot[], joiner: PlannerPeer): boolean {
  const load = (s: Slot) => (s.end - s.start) / speed.get(s.peer)!;
  const donorIndex = slots
    .map((_, i) => i)
    .filter((i) => slots[i].end - slots[i].start >= 2)
    .sort((a, b) => load(slots[b]) - load(slots[a]) || a - b)[0];
  if (donorIndex === undefined) return false;
  const donor = slots[donorIndex];
  const count = donor.end - donor.start;
  const sj = speed.get(joiner)!;
  const k = Math.min(count - 1, fit.layers(joiner, false, false), Math.round((count * sj) / (sj + speed.get(donor.peer)!)));
  if (k < 1) return false;
  // Never displace the tail: it holds the output tensors. Before the tail, or after any other stage.
  if (donorIndex === slots.length - 1) {
    slots.splice(donorIndex, 0, { peer: joiner, start: donor.start, end: donor.start + k });
    donor.start += k;
  } else {
    slots.splice(donorIndex + 1, 0, { peer: joiner, start: donor.end - k, end: donor.end });
    donor.end -= k;
  }
  return true;
}

function sameStages(a: readonly PlanStage[], b: readonly PlanStage[]): boolean {
  return (
    a.length === b.length &&
    a.every((s, i) => s.peerId === b[i].peerId && s.layers.start === b[i].layers.start && s.layers.end === b[i].layers.end && s.shard.kind === b[i].shard.kind)
  );
}
