// The Nostr announcement a peer publishes to be found: event kind, tags, and the JSON body it
// carries (in clear for public and named meshes, AES-GCM encrypted for private ones).
//
// Event layout (NIP-01 parameterized replaceable, so a relay keeps one per peer per mesh):
//   kind     MESH_ANNOUNCEMENT_KIND (38_671; in the 30000–39999 replaceable range, no NIP assigns it)
//   tags     ["d", <mesh id>]            the mesh, 64 hex chars; also the subscription filter "#d"
//            ["expiration", <unix s>]    NIP-40: relays and peers drop the announcement after it
//            ["t", "mesh-llm-web"]       every announcement of this app, for generic filters
//            ["t", "mesh-llm-web/public"] public meshes only: anyone can list them with "#t"
//            ["v", "<protocol version>"] so incompatible peers can be told apart before decrypting
//   content  JSON of MeshAnnouncementBody, or "enc1:" + base64url(iv ‖ AES-GCM ciphertext) for a
//            private mesh (key and AAD in src/mesh/mesh-keys.ts).
import { PEER_BACKENDS, PEER_ROLES, type PeerBackend, type PeerRole } from './mesh-version.ts';
import {
  BASE64URL_RULE,
  HEX64_RULE,
  MODEL_ID_RULE,
  MULTIADDR_RULE,
  PEER_ID_RULE,
  checked,
  field,
  list,
  num,
  object,
  oneOf,
  optStr,
  str,
  stringValue,
  type Checked,
} from './mesh-checks.ts';
import { MAX_LAYERS, readLayerRange, type LayerRange } from './mesh-plan.ts';

export const MESH_ANNOUNCEMENT_KIND = 38_671;
export const APP_TAG = 'mesh-llm-web';
export const PUBLIC_MESH_TAG = 'mesh-llm-web/public';
export const ENCRYPTED_CONTENT_PREFIX = 'enc1:';
/** Announcements live at most this long; peers re-announce well before. */
export const MAX_ANNOUNCEMENT_TTL_S = 3600;
/** Tolerated clock skew for created_at in the future. */
export const MAX_CLOCK_SKEW_S = 300;
export const MAX_CONTENT_CHARS = 32 * 1024;

export type MeshVisibility = 'public' | 'named' | 'private';

/** A model the peer holds, and which of its layers (absent: the whole model or none loaded yet). */
export interface HeldModel {
  readonly model: string;
  readonly layers?: LayerRange;
  /**
   * What those layers run on. Optional: peers before it leave it out, and older peers ignore it, so
   * the protocol version stays; the peer-level `backend` says the same for a peer with one stage.
   */
  readonly backend?: PeerBackend;
}

export interface MeshAnnouncementBody {
  readonly protocol: number;
  /** Repeated inside the (possibly encrypted) body so the d tag cannot be swapped. */
  readonly meshId: string;
  /** Display name of a public or named mesh; never set for private meshes. */
  readonly meshName?: string;
  readonly peerId: string;
  /** libp2p public key (protobuf, base64url); must hash to peerId. */
  readonly libp2pKey: string;
  /** libp2p signature (base64url) over the binding of this Nostr pubkey to peerId. */
  readonly binding: string;
  readonly multiaddrs: readonly string[];
  readonly role: PeerRole;
  readonly backend: PeerBackend;
  readonly memoryBudgetBytes: number;
  /** Measured layer-tokens per second (one layer's forward for one token); the planner weighs by it. */
  readonly layerTokensPerSecond: number;
  readonly models: readonly HeldModel[];
}

export const MAX_MULTIADDRS = 16;
export const MAX_MODELS = 16;

/** Structure only; versions are checked before this and signatures, bindings and expiry in src/mesh/announce.ts. */
export function validateAnnouncementBody(value: unknown): Checked<MeshAnnouncementBody> {
  return checked(() => {
    const o = object(value, 'announcement');
    const p = 'announcement';
    const protocol = num(o, 'protocol', p, { min: 0, max: 1e6, integer: true });
    const meshName = optStr(o, 'meshName', p, { max: 128, min: 1, pattern: /^[^\x00-\x1f\x7f]+$/, shape: 'printable text' });
    return {
      protocol,
      meshId: str(o, 'meshId', p, HEX64_RULE),
      ...(meshName === undefined ? {} : { meshName }),
      peerId: str(o, 'peerId', p, PEER_ID_RULE),
      libp2pKey: str(o, 'libp2pKey', p, { ...BASE64URL_RULE, max: 1024, min: 4 }),
      binding: str(o, 'binding', p, { ...BASE64URL_RULE, max: 1024, min: 4 }),
      multiaddrs: list(o, 'multiaddrs', p, MAX_MULTIADDRS, (v, q) => stringValue(v, q, MULTIADDR_RULE)),
      role: oneOf(o, 'role', p, PEER_ROLES),
      backend: oneOf(o, 'backend', p, PEER_BACKENDS),
      memoryBudgetBytes: num(o, 'memoryBudgetBytes', p, { min: 0, max: 2 ** 50, integer: true }),
      layerTokensPerSecond: num(o, 'layerTokensPerSecond', p, { min: 0, max: 1e9 }),
      models: list(o, 'models', p, MAX_MODELS, readHeldModel),
    };
  });
}

export function readHeldModel(value: unknown, path: string): HeldModel {
  const m = object(value, path);
  const model = str(m, 'model', path, MODEL_ID_RULE);
  const layers = field(m, 'layers');
  const backend = field(m, 'backend') === undefined ? undefined : oneOf(m, 'backend', path, PEER_BACKENDS);
  return {
    model,
    ...(layers === undefined ? {} : { layers: readLayerRange(layers, `${path}.layers`, MAX_LAYERS) }),
    ...(backend === undefined ? {} : { backend }),
  };
}
