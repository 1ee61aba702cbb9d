// Keeps this peer's announcement current on a Nostr relay: publishes at start, again before it
// expires and whenever its facts change (new relay reservation, new addresses), each time with a
// created_at strictly later than the last (relays keep one replaceable event per author and mesh,
// and of two with the same created_at an arbitrary one). Works on the page and in Node 22.
import type { Event } from 'nostr-tools/pure';
import type { Relay } from 'nostr-tools/relay';
import { createAnnouncement, DEFAULT_ANNOUNCEMENT_TTL_S, type AnnouncementFacts } from '../announce.ts';
import type { MeshIdentity } from '../identity.ts';
import type { MeshAccess } from '../mesh-keys.ts';

export interface AnnouncerOptions {
  readonly relay: Relay;
  readonly identity: MeshIdentity;
  readonly mesh: MeshAccess;
  /** Read at every publish, so it reflects the peer's current addresses. */
  readonly facts: () => AnnouncementFacts;
  readonly ttlS?: number;
  /** Unix seconds; injectable for tests. */
  readonly now?: () => number;
  readonly onError?: (error: unknown) => void;
}

export class Announcer {
  private readonly options: AnnouncerOptions;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastCreatedAt = 0;
  private lastFacts = '';
  private running = false;
  private chain: Promise<unknown> = Promise.resolve();
  /** Every event published, newest last (tests and the dashboard read it). */
  readonly published: Event[] = [];

  constructor(options: AnnouncerOptions) {
    this.options = options;
  }

  get ttlS(): number {
    return this.options.ttlS ?? DEFAULT_ANNOUNCEMENT_TTL_S;
  }

  async start(): Promise<void> {
    this.running = true;
    await this.announce();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
  }

  /** Re-announces if the facts changed since the last publish. */
  refresh(): Promise<void> {
    if (!this.running || JSON.stringify(this.options.facts()) === this.lastFacts) return Promise.resolve();
    return this.announce();
  }

  /** Publishes now (serialized, so created_at stays strictly increasing). */
  announce(): Promise<void> {
    const run = this.chain.then(() => this.publishOnce());
    this.chain = run.catch(() => {});
    return run;
  }

  private async publishOnce(): Promise<void> {
    if (!this.running) return;
    clearTimeout(this.timer);
    const now = this.options.now?.() ?? Math.floor(Date.now() / 1000);
    const createdAt = Math.max(now, this.lastCreatedAt + 1);
    const facts = this.options.facts();
    try {
      const event = await createAnnouncement(this.options.identity, this.options.mesh, facts, { now: createdAt, ttlS: this.ttlS });
      await this.options.relay.publish(event);
      this.lastCreatedAt = createdAt;
      this.lastFacts = JSON.stringify(facts);
      this.published.push(event);
      if (this.published.length > 16) this.published.shift();
    } catch (error) {
      this.options.onError?.(error);
    } finally {
      // Re-announce at half the lifetime (sooner after a failure), so the announcement never lapses.
      if (this.running) this.timer = setTimeout(() => void this.announce().catch(() => {}), (this.ttlS * 1000) / 2);
    }
  }
}
