// In-memory event store for the local Nostr relay: NIP-01 replaceable and addressable events,
// NIP-09 deletions, NIP-40 expiry, and a cap on the number of events so memory stays bounded.
import { EventRepository, EventType, EventUtils } from '@nostr-relay/common';
import type { Event, EventRepositoryUpsertResult, Filter } from '@nostr-relay/common';
import { matchFilter } from 'nostr-tools/filter';

export interface MemoryEventRepositoryOptions {
  /** Oldest-inserted events are dropped past this many. */
  maxEvents?: number;
  /** Filters without a limit return at most this many (newest first). */
  defaultLimit?: number;
  now?: () => number;
}

export class MemoryEventRepository extends EventRepository {
  /** Insertion order = eviction order. */
  private readonly byId = new Map<string, Event>();
  /** Replaceable (kind:pubkey) and addressable (kind:pubkey:d) events: the id of the current one. */
  private readonly byAddress = new Map<string, string>();
  private readonly maxEvents: number;
  private readonly defaultLimit: number;
  private readonly now: () => number;

  constructor(options: MemoryEventRepositoryOptions = {}) {
    super();
    this.maxEvents = options.maxEvents ?? 10_000;
    this.defaultLimit = options.defaultLimit ?? 500;
    this.now = options.now ?? (() => Math.floor(Date.now() / 1000));
  }

  get size(): number {
    return this.byId.size;
  }

  isSearchSupported(): boolean {
    return false;
  }

  upsert(event: Event): EventRepositoryUpsertResult {
    if (this.byId.has(event.id)) return { isDuplicate: true };
    const address = addressOf(event);
    if (address !== null) {
      const currentId = this.byAddress.get(address);
      const current = currentId === undefined ? undefined : this.byId.get(currentId);
      // NIP-01: the newer event wins; on a tie, the lowest id.
      if (current && (current.created_at > event.created_at || (current.created_at === event.created_at && current.id < event.id))) {
        return { isDuplicate: true };
      }
      if (current) this.byId.delete(current.id);
      this.byAddress.set(address, event.id);
    }
    this.byId.set(event.id, event);
    while (this.byId.size > this.maxEvents) this.remove(this.byId.keys().next().value as string);
    return { isDuplicate: false };
  }

  find(filter: Filter): Event[] {
    const now = this.now();
    const limit = Math.min(filter.limit ?? this.defaultLimit, this.defaultLimit);
    const found: Event[] = [];
    for (const event of this.byId.values()) {
      if (isExpired(event, now)) continue;
      if (matchFilter(filter as Parameters<typeof matchFilter>[0], event)) found.push(event);
    }
    found.sort((a, b) => b.created_at - a.created_at || (a.id < b.id ? -1 : 1));
    return found.slice(0, limit);
  }

  override async deleteByDeletionRequest(request: Event): Promise<void> {
    // NIP-09: only the author may delete, by event id (e tags) or by address (a tags).
    for (const [name, value] of request.tags) {
      if (name === 'e') {
        const target = this.byId.get(value);
        if (target && target.pubkey === request.pubkey) this.remove(target.id);
      } else if (name === 'a') {
        const id = this.byAddress.get(value);
        const target = id === undefined ? undefined : this.byId.get(id);
        if (target && target.pubkey === request.pubkey && target.created_at <= request.created_at) this.remove(target.id);
      }
    }
  }

  async destroy(): Promise<void> {
    this.byId.clear();
    this.byAddress.clear();
  }

  private remove(id: string): void {
    const event = this.byId.get(id);
    if (!event) return;
    this.byId.delete(id);
    const address = addressOf(event);
    if (address !== null && this.byAddress.get(address) === id) this.byAddress.delete(address);
  }
}

/** NIP-01 address `kind:pubkey:d` (NIP-33 form, also used by NIP-09 `a` tags); null for regular events. */
function addressOf(event: Event): string | null {
  const type = EventUtils.getType(event.kind);
  if (type === EventType.REPLACEABLE) return `${event.kind}:${event.pubkey}:`;
  if (type === EventType.PARAMETERIZED_REPLACEABLE) return `${event.kind}:${event.pubkey}:${EventUtils.extractDTagValue(event) ?? ''}`;
  return null;
}

export function isExpired(event: Event, now: number): boolean {
  const expiration = EventUtils.extractExpirationTimestamp(event);
  return expiration !== null && expiration <= now;
}
