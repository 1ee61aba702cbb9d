// Discovery over Nostr relays: publish this peer's announcement and watch a mesh's (or the public
// listing's), passing every event through the validator into a peer table. Uses nostr-tools'
// relay client, which works on the page and in Node 22 (both have a WebSocket global).
import type { Event } from 'nostr-tools/pure';
import { Relay } from 'nostr-tools/relay';
import type { MeshRejectCode } from '../protocol/mesh-checks.ts';
import { meshFilter, publicListingFilter, validateAnnouncement, type ValidAnnouncement } from './announce.ts';
import type { MeshAccess } from './mesh-keys.ts';
import { PeerTable } from './peer-table.ts';

export interface WatchOptions {
  /** A mesh to watch; without it, the public listing. */
  readonly mesh?: MeshAccess;
  /** Called after a valid, newer announcement entered the table. */
  readonly onPeer?: (announcement: ValidAnnouncement, table: PeerTable) => void;
  /** Called for every event the validator refused (for the dashboard's error list and tests). */
  readonly onRejected?: (code: MeshRejectCode, reason: string, event: unknown) => void;
  /** Unix seconds; injectable for tests. */
  readonly now?: () => number;
}

export interface Watch {
  readonly table: PeerTable;
  /** Resolves once the relay has sent its stored events (EOSE) and they are validated. */
  readonly synced: Promise<void>;
  close(): void;
}

export async function connectRelay(url: string): Promise<Relay> {
  return Relay.connect(url);
}

export async function publishAnnouncement(relay: Relay, event: Event): Promise<void> {
  await relay.publish(event);
}

export function watchAnnouncements(relay: Relay, options: WatchOptions = {}): Watch {
  const table = new PeerTable();
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  // Validation is async (signatures, decryption): chain it so the table sees events in arrival order.
  let queue = Promise.resolve();
  let resolveSynced!: () => void;
  const synced = new Promise<void>((resolve) => (resolveSynced = resolve));
  const sub = relay.subscribe([options.mesh ? meshFilter(options.mesh) : publicListingFilter()], {
    onevent(event) {
      queue = queue.then(async () => {
        const checked = await validateAnnouncement(event, options.mesh, { now: now() });
        if (!checked.ok) return options.onRejected?.(checked.code, checked.reason, event);
        if (table.upsert(checked.value)) options.onPeer?.(checked.value, table);
      });
    },
    oneose() {
      void queue.then(resolveSynced, resolveSynced);
    },
  });
  return {
    table,
    synced,
    close() {
      sub.close();
    },
  };
}
