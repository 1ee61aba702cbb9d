// Joining a mesh from the page's link: `#join=<token>[&role=server|client][&auto=1]` (src/mesh/invite.ts),
// or a public or named mesh by its name (`#public=<name>`, `#mesh=<name>`, or Home's list and name field):
// its head is looked up on the companion's Nostr relay (src/mesh/net/open-mesh.ts).
// With auto=1 the tab joins at load without a click (kiosks, tests); otherwise it waits for the Join
// UI to call join(). The state is published as window.meshApp.mesh for the UI and for tests.
import { IdbIdentityStore } from '../mesh/identity-store-idb.ts';
import { loadOrCreateIdentity } from '../mesh/identity.ts';
import { decodeInvite, encodeInvite, inviteLink, linkParams, readJoinLink, type Invite, type JoinRequest } from '../mesh/invite.ts';
import type { MeshSnapshot, PeerNode } from '../mesh/net/peer-node.ts';
import type { OpenMeshKeys, PublicMeshEntry } from '../mesh/net/open-mesh.ts';
import { openMeshLink, readOpenMeshLink, type OpenMeshRequest, type OpenVisibility } from '../mesh/net/open-mesh-link.ts';
import type { TokenLogprob } from '../mesh/pipeline/mesh-logprobs.ts';
import type { StageBackendChoice } from '../mesh/pipeline/stage-runner.ts';
import type { PeerRole } from '../protocol/mesh-version.ts';
import { openModelUrl } from '../storage/shared-cache.ts';
import { modelUrlFor } from './head-model.ts';

export type MeshJoinState =
  | { readonly status: 'none' }
  | { readonly status: 'invited'; readonly role: PeerRole; readonly open?: OpenMeshName }
  | { readonly status: 'failed'; readonly error: string }
  | MeshSnapshot;

/** A public or named mesh, by the name anyone who knows it joins with. */
export interface OpenMeshName {
  readonly name: string;
  readonly visibility: OpenVisibility;
  /** The head's Nostr key (hex) the link named: only that head is followed. Absent: the head is unauthenticated. */
  readonly head?: string;
}

export interface JoinOptions {
  /** Memory lent to the mesh (the Contribute card's budget); the link's `budget` parameter wins over it. */
  readonly budgetBytes?: number;
  /** What a server's stage runs on (the Contribute card's choice); the link's `backend` parameter wins over it. */
  readonly backend?: StageBackendChoice;
}

export interface MeshJoin {
  /** Plain data (structured-clonable), current at each read. */
  state(): MeshJoinState;
  /** The invite this page was opened from (or adopted), as a shareable link (no auto, no role), or undefined. */
  inviteLink(): string | undefined;
  /**
   * Takes another invite (a pasted link or bare token; the companion's own) while not in a mesh:
   * checks it whole (checksum, mesh id) and turns the state to 'invited'. Throws InviteError.
   */
  adopt(linkOrToken: string): Promise<void>;
  /** Peer ids of the invite's bootstrap peers: the companion that heads the mesh (known once joined). */
  companionPeerIds(): readonly string[];
  /** The memory lent: what the running node was given, or what a join would give (undefined: not set). */
  budgetBytes(): number | undefined;
  /** The backend asked for: what the running node was given, or the link's `backend` (undefined: not set). */
  backendChoice(): StageBackendChoice | undefined;
  /** Joins the invited mesh (the Join button); resolves once bootstrap and discovery are up. */
  join(role?: PeerRole, options?: JoinOptions): Promise<void>;
  /**
   * Joins a public or named mesh by its name (Home's list or name field): finds its head on the
   * relays and joins as from an invite. Throws OpenMeshError when nobody heads that name.
   */
  joinOpen(mesh: OpenMeshName, role?: PeerRole, options?: JoinOptions): Promise<void>;
  /** Takes a public or named mesh by name while not in a mesh: the state turns 'invited' (Join then asks the role). */
  adoptOpen(mesh: OpenMeshName): void;
  /** Forgets the invite or mesh name this tab was opened with while not in a mesh: back to choosing one ('none'). */
  dismiss(): void;
  /** The public meshes listed on the relays (what they stored, validated): for Home's list. */
  listPublic(): Promise<{ readonly relays: readonly string[]; readonly meshes: readonly PublicMeshEntry[] }>;
  /** The public or named mesh this tab was opened for or is in (undefined: an invite's private mesh, or none). */
  openMesh(): OpenMeshName | undefined;
  leave(): Promise<void>;
  /** This tab joined by itself, from a link's `auto=1` (no click): Home says so beside Leave, so a link cannot make a tab serve unnoticed. */
  autoJoined(): boolean;
  /**
   * Sends a /v1 request to the mesh's head (over libp2p, src/mesh/net/api-stream.ts) once this tab
   * has joined, as a server or a client; undefined while it is in no mesh. The promise rejects with
   * a MeshError when the head cannot be reached (the caller then asks the companion's HTTP API).
   */
  meshFetch(request: Request): Promise<Response> | undefined;
  /** Teacher-forced top-K log-probs of `tokens` through the companion's plan (PeerNode.teacherForced): parity checks of a split. */
  teacherForced(tokens: readonly number[], topK?: number): Promise<TokenLogprob[][]>;
  /** Called after every change of state. */
  onChange(listener: () => void): () => void;
}

/** Default memory lent to the mesh until the settings UI sets one. */
const DEFAULT_BUDGET_BYTES = 512 * 1024 * 1024;
/** Identity slots: tabs of one profile share IndexedDB, but each needs its own peer id. */
const MAX_IDENTITY_SLOTS = 16;

export interface MeshJoinDeps {
  /** The Nostr relays a public or named mesh is looked up on (default: the companion's, from /companion.json). */
  readonly relays?: () => Promise<readonly string[]>;
}

export function createMeshJoin(href: string = location.href, deps: MeshJoinDeps = {}): MeshJoin {
  let request: JoinRequest | undefined = readJoinLink(href);
  /** A public or named mesh to join by name (an invite link wins over it). */
  let openRequest: OpenMeshRequest | undefined = request ? undefined : readOpenMeshLink(href);
  const relays =
    deps.relays ??
    (async () => {
      const relay = await companionRelay(location.origin);
      return [...new Set([...(relay ? [relay] : []), ...savedRelays()])];
    });
  /** The decoded invite of the mesh this tab joined (or is joining). */
  let invite: Invite | undefined;
  const listeners = new Set<() => void>();
  const changed = () => {
    const state = current();
    document.documentElement.dataset.mesh = state.status;
    for (const listener of listeners) listener();
  };
  let node: PeerNode | undefined;
  let failure: string | undefined;
  /** The join in progress: a second click (or the Contribute card resuming) waits for it instead of racing it. */
  let joining: Promise<void> | undefined;
  let lentBytes: number | undefined;
  let askedBackend: StageBackendChoice | undefined;
  /** Claimed once: leaving and joining again keeps this tab's peer id. */
  let identitySlot: Promise<string> | undefined;
  /** The current join came from the link's auto=1, not a click. */
  let autoJoined = false;
  const current = (): MeshJoinState => {
    if (node) return node.snapshot();
    if (failure !== undefined) return { status: 'failed', error: failure };
    if (request) return { status: 'invited', role: request.role ?? 'server' };
    if (openRequest) return { status: 'invited', role: openRequest.role ?? 'server', open: openName(openRequest) };
    return { status: 'none' };
  };

  const start = async (role: PeerRole | undefined, options: JoinOptions): Promise<void> => {
    if (!request && !openRequest) throw new Error('this page was not opened from an invite link (#join=…)');
    failure = undefined;
    try {
      let open: OpenMeshKeys | undefined;
      if (request) {
        invite = await decodeInvite(request.token);
      } else if (openRequest) {
        // An open mesh's head is whoever announces it on the relay: found there, then joined as from an invite.
        const { resolveOpenMesh } = await import('../mesh/net/open-mesh.ts');
        if (openRequest.badHead !== undefined)
          throw new Error(`the link's head key “${openRequest.badHead}” is neither an npub nor 64 hex characters: ask for the link again`);
        const found = await resolveOpenMesh(openRequest.name, openRequest.visibility, await relays(), openRequest.head ? { head: openRequest.head } : {});
        invite = found.invite;
        open = found.keys;
      }
      if (!invite) throw new Error('unreachable: no mesh to join');
      const joined = invite;
      // libp2p is most of the bundle: loaded only by tabs that join.
      const { PeerNode } = await import('../mesh/net/peer-node.ts');
      const { identity } = await loadOrCreateIdentity(new IdbIdentityStore(await (identitySlot ??= claimIdentitySlot())));
      lentBytes = budgetOf(href) ?? options.budgetBytes ?? DEFAULT_BUDGET_BYTES;
      askedBackend = backendOf(href) ?? options.backend ?? 'auto';
      // The stage runs in the inference worker (WebGPU or WASM threads); libp2p stays here, since
      // RTCPeerConnection does not exist in workers.
      const { workerStageRunner } = await import('../mesh/pipeline/worker-stage-runner.ts');
      const joinedAs = role ?? request?.role ?? openRequest?.role ?? 'server';
      node = new PeerNode({
        identity,
        invite,
        ...(open ? { open } : {}),
        // The head rotated the secret and kept this tab: join the new mesh with the invite it handed over.
        onRekey: (next) => {
          request = { token: encodeInvite(next), auto: false, role: joinedAs };
          openRequest = undefined;
          mesh
            .leave()
            .then(() => mesh.join(joinedAs, options))
            .catch(() => {}); // the failure is in state()
        },
        role: joinedAs,
        backend: 'wasm',
        memoryBudgetBytes: lentBytes,
        onChange: changed,
        // A server runs the layers the head plans for it, Range-reading only their tensors: from the
        // invite's model URL when it names that model (a head tab's), else the app's /models/.
        openModel: (model) => openModelAt(modelUrlFor(model, joined.model, location.origin)),
        stageRunner: workerStageRunner({ modelUrl: (model) => modelUrlFor(model, joined.model, location.origin), log: (line) => console.info(line) }),
        stageBackend: askedBackend,
        // What goes wrong on the way in (a bootstrap dial refused, a plan refused) is said on the console.
        log: (line) => console.info(line),
      });
      await node.start();
    } catch (error) {
      failure = error instanceof Error ? error.message : String(error);
      node = undefined;
      changed();
      throw error;
    }
  };

  const mesh: MeshJoin = {
    state: current,
    inviteLink: () => {
      const app = new URL(href).origin + new URL(href).pathname;
      if (request) return inviteLink(app, request.token);
      return openRequest ? openMeshLink(app, openRequest.name, openRequest.visibility, openRequest.head) : undefined;
    },
    openMesh: () => (openRequest && !request ? openName(openRequest) : undefined),
    budgetBytes: () => lentBytes ?? budgetOf(href),
    backendChoice: () => askedBackend ?? backendOf(href),
    async adopt(linkOrToken) {
      if (node || joining) throw new Error('leave the current mesh before opening another invite');
      const text = linkOrToken.trim();
      const next: JoinRequest = readJoinLink(text) ?? { token: text.replace(/^#?join=/, ''), auto: false };
      await decodeInvite(next.token); // throws an InviteError that says what is wrong with it
      request = { token: next.token, auto: false, ...(next.role ? { role: next.role } : {}) };
      openRequest = undefined;
      failure = undefined;
      changed();
    },
    companionPeerIds: () => (invite?.bootstrap ?? []).map((address) => address.split('/p2p/')[1]).filter((id): id is string => Boolean(id)),
    async join(role, options = {}) {
      if (node) return joining;
      joining ??= start(role, options).finally(() => (joining = undefined));
      return joining;
    },
    dismiss() {
      if (node || joining) throw new Error('leave the current mesh first');
      request = undefined;
      openRequest = undefined;
      invite = undefined;
      failure = undefined;
      changed();
    },
    adoptOpen(open) {
      if (node || joining) throw new Error('leave the current mesh before joining another');
      const name = open.name.trim();
      if (!name) throw new Error('type the mesh’s name');
      if (name.length > 128) throw new Error('a mesh name has at most 128 characters');
      openRequest = { name, visibility: open.visibility, auto: false, ...(open.head ? { head: open.head } : {}) };
      request = undefined;
      failure = undefined;
      changed();
    },
    async joinOpen(open, role, options = {}) {
      mesh.adoptOpen(open);
      return mesh.join(role, options);
    },
    async listPublic() {
      const urls = await relays();
      const { listPublicMeshes } = await import('../mesh/net/open-mesh.ts');
      const lists = await Promise.all(urls.map((url) => listPublicMeshes(url).catch(() => [])));
      // The same mesh on two relays: keep the entry that counts more peers.
      const byId = new Map<string, PublicMeshEntry>();
      for (const entry of lists.flat()) if ((byId.get(entry.meshId)?.peers ?? -1) < entry.peers) byId.set(entry.meshId, entry);
      return { relays: urls, meshes: [...byId.values()] };
    },
    meshFetch(request) {
      return node?.snapshot().status === 'joined' ? node.fetchApi(request) : undefined;
    },
    async teacherForced(tokens, topK) {
      if (!node) throw new Error('join a mesh first');
      return node.teacherForced(tokens, topK);
    },
    autoJoined: () => autoJoined && node !== undefined,
    async leave() {
      await joining?.catch(() => {});
      const stopping = node;
      node = undefined;
      autoJoined = false;
      lentBytes = undefined;
      askedBackend = undefined;
      await stopping?.stop();
      changed();
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  changed();
  if (request?.auto || openRequest?.auto) {
    autoJoined = true;
    mesh.join().catch(() => {}); // the failure is in state()
  }
  return mesh;
}

function openName(r: OpenMeshRequest): OpenMeshName {
  return { name: r.name, visibility: r.visibility, ...(r.head ? { head: r.head } : {}) };
}

/**
 * The memory lent, from the link's `budget` parameter (bytes, or with a k/m/g suffix): small
 * budgets force even a tiny model to split across tabs (tests, demos).
 */
export function budgetOf(href: string): number | undefined {
  let url: URL;
  try {
    url = new URL(href);
  } catch {
    return undefined;
  }
  const raw = new URLSearchParams(url.hash.replace(/^#/, '')).get('budget') ?? url.searchParams.get('budget');
  const m = raw ? /^(\d+(?:\.\d+)?)([kmg]?)$/i.exec(raw.trim()) : null;
  if (!m) return undefined;
  const scale = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Math.floor(Number(m[1]) * scale);
}

/** The link's `backend` parameter (`webgpu`, `wasm` or `auto`): kiosks and tests pin a tab's stage to one. */
export function backendOf(href: string): StageBackendChoice | undefined {
  for (const params of linkParams(href)) {
    const raw = params.get('backend');
    if (raw === 'webgpu' || raw === 'wasm' || raw === 'auto') return raw;
  }
  return undefined;
}

/**
 * A model opened with Range reads (only the tensors asked for are fetched) through the weight cache:
 * what the Models view downloaded is not fetched again, and the layers read here show in the Models view.
 */
export async function openModelAt(url: string) {
  const { openModel } = await import('../engine/model.ts');
  return openModel(await openModelUrl(url));
}

/**
 * The IndexedDB name of an identity no other open tab of this profile uses: a Web Lock per slot,
 * held for the tab's lifetime, so the first tab keeps slot 0's peer id across reloads.
 */
export async function claimIdentitySlot(): Promise<string> {
  if (!('locks' in navigator)) return 'mesh-llm-web-identity';
  for (let slot = 0; slot < MAX_IDENTITY_SLOTS; slot++) {
    const name = slot === 0 ? 'mesh-llm-web-identity' : `mesh-llm-web-identity-${slot}`;
    const claimed = await new Promise<boolean>((resolve) => {
      void navigator.locks
        .request(name, { ifAvailable: true }, (lock) => {
          resolve(lock !== null);
          // Held until the tab closes.
          return lock ? new Promise<void>(() => {}) : undefined;
        })
        .catch(() => resolve(false));
    });
    if (claimed) return name;
  }
  return `mesh-llm-web-identity-${crypto.randomUUID()}`;
}

/**
 * The invite link of the companion's own private mesh, which it gives only to pages of its own
 * machine (/companion.json `invite`); undefined when there is none or it is not a join link.
 */
export async function publishedInvite(origin: string, fetchFn: typeof fetch = fetch): Promise<string | undefined> {
  try {
    const res = await fetchFn(`${origin}/companion.json`, { cache: 'no-store', signal: AbortSignal.timeout(2000) });
    if (!res.ok || !res.headers.get('content-type')?.includes('json')) return undefined;
    const body = (await res.json()) as { invite?: unknown };
    return typeof body.invite === 'string' && readJoinLink(body.invite) ? body.invite : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The companion's Nostr relay, where public and named meshes are looked up (/companion.json
 * `nostr`, with the host this page reached it by); undefined when there is no companion to ask.
 */
export async function companionRelay(origin: string, fetchFn: typeof fetch = fetch): Promise<string | undefined> {
  try {
    const res = await fetchFn(`${origin}/companion.json`, { cache: 'no-store', signal: AbortSignal.timeout(2000) });
    if (!res.ok || !res.headers.get('content-type')?.includes('json')) return undefined;
    const body = (await res.json()) as { nostr?: unknown };
    return typeof body.nostr === 'string' && /^wss?:\/\//.test(body.nostr) ? body.nostr : undefined;
  } catch {
    return undefined;
  }
}

const RELAYS_KEY = 'mesh-llm-web.relays';

/**
 * Nostr relay URLs from what a person typed (comma or space separated): ws:// or wss:// only, at
 * most 8. Throws an Error naming the first entry that is not one.
 */
export function parseRelayList(text: string): string[] {
  const urls: string[] = [];
  for (const part of text.split(/[\s,]+/).filter(Boolean)) {
    let url: URL | undefined;
    try {
      url = new URL(part);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'ws:' && url.protocol !== 'wss:'))
      throw new Error(`“${part}” is not a relay address: write it as ws://host:port or wss://host`);
    urls.push(url.href.replace(/\/$/, ''));
  }
  if (urls.length > 8) throw new Error('at most 8 relays');
  return [...new Set(urls)];
}

/** Relays the person added in Home (besides the companion's), kept in this browser. */
export function savedRelays(): string[] {
  try {
    return parseRelayList(localStorage.getItem(RELAYS_KEY) ?? '');
  } catch {
    return [];
  }
}

export function saveRelays(urls: readonly string[]): void {
  localStorage.setItem(RELAYS_KEY, urls.join(' '));
}
