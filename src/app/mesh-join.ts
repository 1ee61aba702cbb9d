// Joining a mesh from the page's link: `#join=<token>[&role=server|client][&auto=1]` (src/mesh/invite.ts).
// With auto=1 the tab joins at load without a click (kiosks, tests); otherwise it waits for the Join
// UI to call join(). The state is published as window.meshApp.mesh for the UI and for tests.
import { IdbIdentityStore } from '../mesh/identity-store-idb.ts';
import { loadOrCreateIdentity } from '../mesh/identity.ts';
import { decodeInvite, inviteLink, readJoinLink, type Invite, type JoinRequest } from '../mesh/invite.ts';
import type { MeshSnapshot, PeerNode } from '../mesh/net/peer-node.ts';
import type { TokenLogprob } from '../mesh/pipeline/mesh-logprobs.ts';
import type { PeerRole } from '../protocol/mesh-version.ts';
import { openModelUrl } from '../storage/shared-cache.ts';

export type MeshJoinState =
  | { readonly status: 'none' }
  | { readonly status: 'invited'; readonly role: PeerRole }
  | { readonly status: 'failed'; readonly error: string }
  | MeshSnapshot;

export interface JoinOptions {
  /** Memory lent to the mesh (the Contribute card's budget); the link's `budget` parameter wins over it. */
  readonly budgetBytes?: number;
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
  /** Joins the invited mesh (the Join button); resolves once bootstrap and discovery are up. */
  join(role?: PeerRole, options?: JoinOptions): Promise<void>;
  leave(): Promise<void>;
  /** Teacher-forced top-K log-probs of `tokens` through the companion's plan (PeerNode.teacherForced): parity checks of a split. */
  teacherForced(tokens: readonly number[], topK?: number): Promise<TokenLogprob[][]>;
  /** Called after every change of state. */
  onChange(listener: () => void): () => void;
}

/** Default memory lent to the mesh until the settings UI sets one. */
const DEFAULT_BUDGET_BYTES = 512 * 1024 * 1024;
/** Identity slots: tabs of one profile share IndexedDB, but each needs its own peer id. */
const MAX_IDENTITY_SLOTS = 16;

export function createMeshJoin(href: string = location.href): MeshJoin {
  let request: JoinRequest | undefined = readJoinLink(href);
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
  /** Claimed once: leaving and joining again keeps this tab's peer id. */
  let identitySlot: Promise<string> | undefined;
  const current = (): MeshJoinState => {
    if (node) return node.snapshot();
    if (failure !== undefined) return { status: 'failed', error: failure };
    return request ? { status: 'invited', role: request.role ?? 'server' } : { status: 'none' };
  };

  const start = async (role: PeerRole | undefined, options: JoinOptions): Promise<void> => {
    if (!request) throw new Error('this page was not opened from an invite link (#join=…)');
    failure = undefined;
    try {
      invite = await decodeInvite(request.token);
      // libp2p is most of the bundle: loaded only by tabs that join.
      const { PeerNode } = await import('../mesh/net/peer-node.ts');
      const { identity } = await loadOrCreateIdentity(new IdbIdentityStore(await (identitySlot ??= claimIdentitySlot())));
      lentBytes = budgetOf(href) ?? options.budgetBytes ?? DEFAULT_BUDGET_BYTES;
      node = new PeerNode({
        identity,
        invite,
        role: role ?? request.role ?? 'server',
        backend: 'wasm',
        memoryBudgetBytes: lentBytes,
        onChange: changed,
        // A server runs the layers the companion plans for it, Range-reading only their tensors.
        openModel: openPublishedModel,
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
    inviteLink: () => (request ? inviteLink(new URL(href).origin + new URL(href).pathname, request.token) : undefined),
    budgetBytes: () => lentBytes ?? budgetOf(href),
    async adopt(linkOrToken) {
      if (node || joining) throw new Error('leave the current mesh before opening another invite');
      const text = linkOrToken.trim();
      const next: JoinRequest = readJoinLink(text) ?? { token: text.replace(/^#?join=/, ''), auto: false };
      await decodeInvite(next.token); // throws an InviteError that says what is wrong with it
      request = { token: next.token, auto: false, ...(next.role ? { role: next.role } : {}) };
      failure = undefined;
      changed();
    },
    companionPeerIds: () => (invite?.bootstrap ?? []).map((address) => address.split('/p2p/')[1]).filter((id): id is string => Boolean(id)),
    async join(role, options = {}) {
      if (node) return joining;
      joining ??= start(role, options).finally(() => (joining = undefined));
      return joining;
    },
    async teacherForced(tokens, topK) {
      if (!node) throw new Error('join a mesh first');
      return node.teacherForced(tokens, topK);
    },
    async leave() {
      await joining?.catch(() => {});
      const stopping = node;
      node = undefined;
      lentBytes = undefined;
      await stopping?.stop();
      changed();
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  changed();
  if (request?.auto) mesh.join().catch(() => {}); // the failure is in state()
  return mesh;
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

/**
 * A model the companion publishes under /models/, opened with Range reads (only the tensors asked for
 * are fetched) through the weight cache: what the Models view downloaded is not fetched again, and
 * the layers read here show in the Models view.
 */
async function openPublishedModel(model: string) {
  const { openModel } = await import('../engine/model.ts');
  return openModel(await openModelUrl(new URL(`/models/${encodeURIComponent(model)}.gguf`, location.origin).href));
}

/**
 * The IndexedDB name of an identity no other open tab of this profile uses: a Web Lock per slot,
 * held for the tab's lifetime, so the first tab keeps slot 0's peer id across reloads.
 */
async function claimIdentitySlot(): Promise<string> {
  if (!('locks' in navigator)) return 'mesh-llm-web-identity';
  for (let slot = 0; slot < MAX_IDENTITY_SLOTS; slot++) {
    const name = slot === 0 ? 'mesh-llm-web-identity' : `mesh-llm-web-identity-${slot}`;
    const claimed = await new Promise<boolean>((resolve) => {
      void navigator.locks.request(name, { ifAvailable: true }, (lock) => {
        resolve(lock !== null);
        // Held until the tab closes.
        return lock ? new Promise<void>(() => {}) : undefined;
      });
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
