// The peers a node knows from announcements: the newest valid announcement per peer id, dropped
// when it expires. Planning reads it in peer-id order so every node sees the same table.
import type { ValidAnnouncement } from './announce.ts';
import type { PlannerPeer } from './planner.ts';

export class PeerTable {
  private readonly peers = new Map<string, ValidAnnouncement>();

  /** Keeps `a` if it is newer than what is known for its peer; returns whether the table changed. */
  upsert(a: ValidAnnouncement): boolean {
    const known = this.peers.get(a.body.peerId);
    if (known && (known.createdAt > a.createdAt || known.eventId === a.eventId)) return false;
    this.peers.set(a.body.peerId, a);
    return true;
  }

  remove(peerId: string): boolean {
    return this.peers.delete(peerId);
  }

  /** Drops expired announcements (unix seconds); returns the peer ids dropped. */
  prune(now: number): string[] {
    const gone = [...this.peers.values()].filter((a) => a.expiresAt <= now).map((a) => a.body.peerId);
    for (const id of gone) this.peers.delete(id);
    return gone;
  }

  get(peerId: string): ValidAnnouncement | undefined {
    return this.peers.get(peerId);
  }

  get size(): number {
    return this.peers.size;
  }

  list(): ValidAnnouncement[] {
    return [...this.peers.values()].sort((a, b) => (a.body.peerId < b.body.peerId ? -1 : a.body.peerId > b.body.peerId ? 1 : 0));
  }

  /** Planner input; `rttMs` gives each peer's gossiped round trip (Infinity when unknown keeps it out). */
  plannerPeers(rttMs: (peerId: string) => number): PlannerPeer[] {
    return this.list().map((a) => ({
      peerId: a.body.peerId,
      role: a.body.role,
      memoryBudgetBytes: a.body.memoryBudgetBytes,
      layerTokensPerSecond: a.body.layerTokensPerSecond,
      rttMs: rttMs(a.body.peerId),
    }));
  }
}
