// Gossip messages peers exchange over pubsub (JSON): their state, the demand they see, the layer
// plan they computed, and the stage activation handshake (load these layers / loaded them).
// Every message names its sender, a per-sender sequence number (to drop stale or replayed ones)
// and the protocol version; the validator checks each field and never throws.
import { PEER_ID_RULE, MODEL_ID_RULE, checked, field, list, num, object, oneOf, reject, str, stringValue, type Checked, type Json } from './mesh-checks.ts';
import { MAX_MODELS, readHeldModel, type HeldModel } from './mesh-announcement.ts';
import {
  MAX_LAYERS,
  readLayerPlan,
  readLayerRange,
  readPlanBasis,
  readShard,
  type LayerPlan,
  type LayerRange,
  type PlanBasis,
  type StageShard,
} from './mesh-plan.ts';
import { MESH_PROTOCOL_VERSION, PEER_BACKENDS, PEER_ROLES, versionMismatchReason, type PeerBackend, type PeerRole } from './mesh-version.ts';

export const GOSSIP_TOPIC_PREFIX = 'mesh-llm-web/v1/';
/** Largest encoded gossip message; a layer plan of 256 stages fits well within it. */
export const MAX_GOSSIP_BYTES = 64 * 1024;

interface Envelope {
  readonly protocol: number;
  /** Sender; must match the libp2p peer the pubsub message is signed by. */
  readonly peerId: string;
  /** Per sender, increasing: receivers keep only the newest of each type. */
  readonly seq: number;
  /** Sender's clock, ms since the epoch: for display and staleness, never for ordering. */
  readonly sentAt: number;
}

export interface PeerStateMessage extends Envelope {
  readonly type: 'peer-state';
  readonly role: PeerRole;
  readonly backend: PeerBackend;
  readonly memoryBudgetBytes: number;
  readonly layerTokensPerSecond: number;
  /** Round trip the sender measured to the head (net/rtt-stream.ts; what planners compare to the cap), ms; 0 for the head itself. */
  readonly rttMs: number;
  /**
   * Throughput the sender measured on its link to the head (net/rtt-stream.ts, a timed echo of a
   * 16 KiB frame on a direct link), bytes/s; absent until measured (the planner counts the median).
   */
  readonly linkBytesPerSecond?: number;
  readonly models: readonly HeldModel[];
  readonly activeSessions: number;
}

export interface DemandMessage extends Envelope {
  readonly type: 'demand';
  readonly model: string;
  readonly queuedRequests: number;
  readonly activeSessions: number;
  /** Tokens per second the sender's clients received recently. */
  readonly servedTokensPerSecond: number;
}

export interface LayerPlanMessage extends Envelope {
  readonly type: 'layer-plan';
  readonly plan: LayerPlan;
  /** What the head computed it from, for servers to verify (absent: the server refuses its share). */
  readonly basis?: PlanBasis;
}

export interface StageActivateMessage extends Envelope {
  readonly type: 'stage-activate';
  /** The peer asked to load the layers. */
  readonly target: string;
  readonly model: string;
  readonly planEpoch: number;
  readonly layers: LayerRange;
  readonly shard: StageShard;
}

export interface StageReadyMessage extends Envelope {
  readonly type: 'stage-ready';
  readonly model: string;
  readonly planEpoch: number;
  readonly layers: LayerRange;
  readonly shard: StageShard;
}

/**
 * The head's deny list (src/mesh/net/revocation.ts): credentials and peers it revoked. Members
 * take it only from the head (as plans), refuse those peers and drop their links; the whole list
 * each time, so a member that missed one has it from the next.
 */
export interface RevocationsMessage extends Envelope {
  readonly type: 'revocations';
  /** Ids of revoked member credentials (32 hex characters each). */
  readonly credentials: readonly string[];
  readonly peers: readonly string[];
}

export const MAX_REVOCATIONS = 512;

export type GossipMessage = PeerStateMessage | DemandMessage | LayerPlanMessage | StageActivateMessage | StageReadyMessage | RevocationsMessage;
export type GossipType = GossipMessage['type'];
export const GOSSIP_TYPES: readonly GossipType[] = ['peer-state', 'demand', 'layer-plan', 'stage-activate', 'stage-ready', 'revocations'];

const COUNT = { min: 0, max: 1e9, integer: true } as const;

export function validateGossipMessage(value: unknown): Checked<GossipMessage> {
  return checked(() => readGossipMessage(value));
}

function readGossipMessage(value: unknown): GossipMessage {
  const o = object(value, 'message');
  const p = 'message';
  // The version first, so a newer peer's message is refused with the version reason, not a field error.
  const protocol = num(o, 'protocol', p, { min: 0, max: 1e6, integer: true });
  if (protocol !== MESH_PROTOCOL_VERSION) reject('unsupported_version', versionMismatchReason(protocol));
  const type = oneOf(o, 'type', p, GOSSIP_TYPES);
  const envelope: Envelope = {
    protocol,
    peerId: str(o, 'peerId', p, PEER_ID_RULE),
    seq: num(o, 'seq', p, { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true }),
    sentAt: num(o, 'sentAt', p, { min: 0, max: 8.64e15, integer: true }),
  };
  switch (type) {
    case 'peer-state':
      return {
        type,
        ...envelope,
        role: oneOf(o, 'role', p, PEER_ROLES),
        backend: oneOf(o, 'backend', p, PEER_BACKENDS),
        memoryBudgetBytes: num(o, 'memoryBudgetBytes', p, { min: 0, max: 2 ** 50, integer: true }),
        layerTokensPerSecond: num(o, 'layerTokensPerSecond', p, { min: 0, max: 1e9 }),
        rttMs: num(o, 'rttMs', p, { min: 0, max: 3.6e6 }),
        ...(o.linkBytesPerSecond === undefined ? {} : { linkBytesPerSecond: num(o, 'linkBytesPerSecond', p, { min: 0, max: 1e12 }) }),
        models: list(o, 'models', p, MAX_MODELS, readHeldModel),
        activeSessions: num(o, 'activeSessions', p, COUNT),
      };
    case 'demand':
      return {
        type,
        ...envelope,
        model: str(o, 'model', p, MODEL_ID_RULE),
        queuedRequests: num(o, 'queuedRequests', p, COUNT),
        activeSessions: num(o, 'activeSessions', p, COUNT),
        servedTokensPerSecond: num(o, 'servedTokensPerSecond', p, { min: 0, max: 1e9 }),
      };
    case 'layer-plan':
      return {
        type,
        ...envelope,
        plan: readLayerPlan(field(o, 'plan'), `${p}.plan`),
        ...(o.basis === undefined ? {} : { basis: readPlanBasis(o.basis, `${p}.basis`) }),
      };
    case 'stage-activate':
      return { type, ...envelope, target: str(o, 'target', p, PEER_ID_RULE), ...stageFields(o, p) };
    case 'stage-ready':
      return { type, ...envelope, ...stageFields(o, p) };
    case 'revocations':
      return {
        type,
        ...envelope,
        credentials: list(o, 'credentials', p, MAX_REVOCATIONS, (v, q) => stringValue(v, q, CREDENTIAL_ID_RULE)),
        peers: list(o, 'peers', p, MAX_REVOCATIONS, (v, q) => stringValue(v, q, PEER_ID_RULE)),
      };
  }
}

const CREDENTIAL_ID_RULE = { max: 32, min: 32, pattern: /^[0-9a-f]{32}$/, shape: '32 lowercase hex characters' };

function stageFields(o: Json, p: string): { model: string; planEpoch: number; layers: LayerRange; shard: StageShard } {
  return {
    model: str(o, 'model', p, MODEL_ID_RULE),
    planEpoch: num(o, 'planEpoch', p, { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true }),
    layers: readLayerRange(field(o, 'layers'), `${p}.layers`, MAX_LAYERS),
    shard: readShard(field(o, 'shard'), `${p}.shard`),
  };
}
