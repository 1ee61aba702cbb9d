// Joining a mesh from the page's link: `#join=<token>[&role=server|client][&auto=1]` (src/mesh/invite.ts).
// With auto=1 the tab joins at load without a click (kiosks, tests); otherwise it waits for the Join
// UI to call join(). The state is published as window.meshApp.mesh for the UI and for tests.
import { IdbIdentityStore } from '../mesh/identity-store-idb.ts';
import { loadOrCreateIdentity } from '../mesh/identity.ts';
import { decodeInvite, readJoinLink, type JoinRequest } from '../mesh/invite.ts';
import type { MeshSnapshot, PeerNode } from '../mesh/net/peer-node.ts';
import type { PeerRole } from '../protocol/mesh-version.ts';

export type MeshJoinState =
  | { readonly status: 'none' }
  | { readonly status: 'invited'; readonly role: PeerRole }
  | { readonly status: 'failed'; readonly error: string }
  | MeshSnapshot;

export interface MeshJoin {
  /** Plain data (structured-clonable), current at each read. */
  state(): MeshJoinState;
  /** Joins the invited mesh (the Join button); resolves once bootstrap and discovery are up. */
  join(role?: PeerRole): Promise<void>;
  leave(): Promise<void>;
  /** Called after every change of state. */
  onChange(listener: () => void): () => void;
}

/** Default memory lent to the mesh until the settings UI sets one. */
const DEFAULT_BUDGET_BYTES = 512 * 1024 * 1024;
/** Identity slots: tabs of one profile share IndexedDB, but each needs its own peer id. */
const MAX_IDENTITY_SLOTS = 16;

export function createMeshJoin(href: string = location.href): MeshJoin {
  const request: JoinRequest | undefined = readJoinLink(href);
  const listeners = new Set<() => void>();
  const changed = () => {
    const state = current();
    document.documentElement.dataset.mesh = state.status;
    for (const listener of listeners) listener();
  };
  let node: PeerNode | undefined;
  let failure: string | undefined;
  const current = (): MeshJoinState => {
    if (node) return node.snapshot();
    if (failure !== undefined) return { status: 'failed', error: failure };
    return request ? { status: 'invited', role: request.role ?? 'server' } : { status: 'none' };
  };

  const mesh: MeshJoin = {
    state: current,
    async join(role) {
      if (!request) throw new Error('this page was not opened from an invite link (#join=…)');
      if (node) return;
      try {
        const invite = await decodeInvite(request.token);
        // libp2p is most of the bundle: loaded only by tabs that join.
        const { PeerNode } = await import('../mesh/net/peer-node.ts');
        const { identity } = await loadOrCreateIdentity(new IdbIdentityStore(await claimIdentitySlot()));
        node = new PeerNode({
          identity,
          invite,
          role: role ?? request.role ?? 'server',
          backend: 'wasm',
          memoryBudgetBytes: DEFAULT_BUDGET_BYTES,
          onChange: changed,
        });
        await node.start();
      } catch (error) {
        failure = error instanceof Error ? error.message : String(error);
        node = undefined;
        changed();
        throw error;
      }
    },
    async leave() {
      await node?.stop();
      node = undefined;
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
