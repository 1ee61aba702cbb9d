// The layer plan every peer computes from the shared state and gossips: which peer runs which
// layers (and, for mixture-of-experts models, which expert shard of them), in pipeline order.
import { MODEL_ID_RULE, PEER_ID_RULE, bool, checked, field, list, num, object, oneOf, reject, str, type Checked } from './mesh-checks.ts';
import { PEER_ROLES, type PeerRole } from './mesh-version.ts';

/** Half-open: layers start … end-1. */
export interface LayerRange {
  readonly start: number;
  readonly end: number;
}

/**
 * What part of its layers a stage computes: all of them (dense), or experts start … end-1 of
 * `count` per layer, with sibling stages over the same layer range holding the other experts.
 */
export type StageShard = { readonly kind: 'dense' } | { readonly kind: 'experts'; readonly start: number; readonly end: number; readonly count: number };

export interface PlanStage {
  readonly peerId: string;
  readonly layers: LayerRange;
  readonly shard: StageShard;
}

/** slow_link: its measured link costs a token far more than the others' (src/mesh/link-cost.ts), and the plan fits without it. */
export type ExclusionReason = 'client_role' | 'rtt_above_cap' | 'below_one_layer' | 'no_share' | 'slow_link';

export interface PlanExclusion {
  readonly peerId: string;
  readonly reason: ExclusionReason;
}

export interface LayerPlan {
  readonly model: string;
  readonly layerCount: number;
  /** Increases whenever the stages change, so peers can tell a newer plan from a stale one. */
  readonly epoch: number;
  readonly mode: 'solo' | 'pipeline';
  /** Pipeline order: ascending layer ranges; shards of one range are adjacent. */
  readonly stages: readonly PlanStage[];
  /** Embeds tokens (holds token_embd): a stage whose range starts at layer 0. */
  readonly head: string;
  /** Samples (holds output): a stage whose range ends at the last layer. */
  readonly tail: string;
  readonly excluded: readonly PlanExclusion[];
}

/** One peer as the head fed it to the planner (its gossiped state). */
export interface PlanBasisPeer {
  readonly peerId: string;
  readonly role: PeerRole;
  readonly memoryBudgetBytes: number;
  readonly layerTokensPerSecond: number;
  readonly rttMs: number;
  /** Its link's measured throughput to the head, bytes/s (absent: not measured). */
  readonly linkBytesPerSecond?: number;
}

/**
 * What a plan was computed from, sent with it so each server can recompute it and check the head's
 * view of itself (src/mesh/net/plan-check.ts): the peers, the plan it replaced, the planner's options.
 */
export interface PlanBasis {
  readonly peers: readonly PlanBasisPeer[];
  readonly previous?: LayerPlan;
  readonly rttCapMs: number;
  readonly perLayerExtraBytes: number;
  /** False when the head embeds and computes logits itself, so stages hold no head or tail tensors. */
  readonly countsHeadTail: boolean;
}

export const MAX_PLAN_STAGES = 256;
export const MAX_LAYERS = 4096;
export const MAX_EXPERTS = 1024;
const EXCLUSION_REASONS: readonly ExclusionReason[] = ['client_role', 'rtt_above_cap', 'below_one_layer', 'no_share', 'slow_link'];

export function validateLayerPlan(value: unknown): Checked<LayerPlan> {
  return checked(() => readLayerPlan(value, 'plan'));
}

export function readLayerPlan(value: unknown, path: string): LayerPlan {
  const o = object(value, path);
  const model = str(o, 'model', path, MODEL_ID_RULE);
  const layerCount = num(o, 'layerCount', path, { min: 1, max: MAX_LAYERS, integer: true });
  const epoch = num(o, 'epoch', path, { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true });
  const mode = oneOf(o, 'mode', path, ['solo', 'pipeline'] as const);
  const stages = list(o, 'stages', path, MAX_PLAN_STAGES, (v, p) => readStage(v, p, layerCount));
  const head = str(o, 'head', path, PEER_ID_RULE);
  const tail = str(o, 'tail', path, PEER_ID_RULE);
  const excluded = list(o, 'excluded', path, MAX_PLAN_STAGES * 4, (v, p) => {
    const e = object(v, p);
    return { peerId: str(e, 'peerId', p, PEER_ID_RULE), reason: oneOf(e, 'reason', p, EXCLUSION_REASONS) };
  });
  checkCoverage(stages, layerCount, path);
  if (mode === 'solo' && (stages.length !== 1 || stages[0].shard.kind !== 'dense')) reject('malformed', `${path}: a solo plan has exactly one dense stage`);
  if (!stages.some((s) => s.peerId === head && s.layers.start === 0)) reject('malformed', `${path}.head must be a stage that starts at layer 0`);
  if (!stages.some((s) => s.peerId === tail && s.layers.end === layerCount)) reject('malformed', `${path}.tail must be a stage that ends at the last layer`);
  return { model, layerCount, epoch, mode, stages, head, tail, excluded };
}

export function readPlanBasis(value: unknown, path: string): PlanBasis {
  const o = object(value, path);
  const peers = list(o, 'peers', path, MAX_PLAN_STAGES * 4, (v, p) => {
    const e = object(v, p);
    return {
      peerId: str(e, 'peerId', p, PEER_ID_RULE),
      role: oneOf(e, 'role', p, PEER_ROLES),
      memoryBudgetBytes: num(e, 'memoryBudgetBytes', p, { min: 0, max: 2 ** 50, integer: true }),
      layerTokensPerSecond: num(e, 'layerTokensPerSecond', p, { min: 0, max: 1e9 }),
      rttMs: num(e, 'rttMs', p, { min: 0, max: 3.6e6 }),
      ...(e.linkBytesPerSecond === undefined ? {} : { linkBytesPerSecond: num(e, 'linkBytesPerSecond', p, { min: 0, max: 1e12 }) }),
    };
  });
  const previous = o.previous === undefined ? undefined : readLayerPlan(o.previous, `${path}.previous`);
  return {
    peers,
    ...(previous ? { previous } : {}),
    rttCapMs: num(o, 'rttCapMs', path, { min: 0, max: 3.6e6 }),
    perLayerExtraBytes: num(o, 'perLayerExtraBytes', path, { min: 0, max: 2 ** 50, integer: true }),
    countsHeadTail: bool(o, 'countsHeadTail', path),
  };
}

function readStage(value: unknown, path: string, layerCount: number): PlanStage {
  const o = object(value, path);
  const peerId = str(o, 'peerId', path, PEER_ID_RULE);
  const layers = readLayerRange(field(o, 'layers'), `${path}.layers`, layerCount);
  return { peerId, layers, shard: readShard(field(o, 'shard'), `${path}.shard`) };
}

export function readShard(value: unknown, path: string): StageShard {
  const s = object(value, path);
  const kind = oneOf(s, 'kind', path, ['dense', 'experts'] as const);
  if (kind === 'dense') return { kind };
  const count = num(s, 'count', path, { min: 1, max: MAX_EXPERTS, integer: true });
  const start = num(s, 'start', path, { min: 0, max: count - 1, integer: true });
  const end = num(s, 'end', path, { min: start + 1, max: count, integer: true });
  return { kind, start, end, count };
}

export function readLayerRange(value: unknown, path: string, layerCount = MAX_LAYERS): LayerRange {
  const o = object(value, path);
  const start = num(o, 'start', path, { min: 0, max: layerCount - 1, integer: true });
  const end = num(o, 'end', path, { min: start + 1, max: layerCount, integer: true });
  return { start, end };
}

/** Ranges tile 0 … layerCount-1 in order; each range is one dense stage or expert shards tiling all experts. */
function checkCoverage(stages: readonly PlanStage[], layerCount: number, path: string): void {
  if (stages.length === 0) reject('malformed', `${path}.stages is empty`);
  let next = 0;
  let i = 0;
  while (i < stages.length) {
    const { layers } = stages[i];
    if (layers.start !== next) reject('malformed', `${path}.stages[${i}] starts at layer ${layers.start}, expected ${next}: ranges must be contiguous`);
    if (stages[i].shard.kind === 'dense') {
      i++;
    } else {
      let expert = 0;
      let count = -1;
      while (i < stages.length && stages[i].layers.start === layers.start) {
        const shard = stages[i].shard;
        if (stages[i].layers.end !== layers.end || shard.kind !== 'experts')
          reject('malformed', `${path}.stages[${i}] must shard the same layers as its siblings`);
        if (count >= 0 && shard.count !== count) reject('malformed', `${path}.stages[${i}] disagrees on the expert count`);
        if (shard.start !== expert) reject('malformed', `${path}.stages[${i}] starts at expert ${shard.start}, expected ${expert}`);
        count = shard.count;
        expert = shard.end;
        i++;
      }
      if (expert !== count) reject('malformed', `${path}: experts of layers ${layers.start}-${layers.end - 1} end at ${expert} of ${count}`);
    }
    next = layers.end;
  }
  if (next !== layerCount) reject('malformed', `${path}.stages end at layer ${next}, the model has ${layerCount}`);
}
