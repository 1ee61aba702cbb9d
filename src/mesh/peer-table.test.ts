import { describe, expect, it } from 'vitest';
import type { ValidAnnouncement } from './announce.ts';
import { PeerTable } from './peer-table.ts';

const announcement = (peerId: string, createdAt: number, eventId = `${peerId}-${createdAt}`): ValidAnnouncement => ({
  nostrPubkey: 'a'.repeat(64),
  eventId,
  createdAt,
  expiresAt: createdAt + 600,
  visibility: 'public',
  body: {
    protocol: 1,
    meshId: 'b'.repeat(64),
    peerId,
    libp2pKey: 'AAAA',
    binding: 'AAAA',
    multiaddrs: [],
    role: 'server',
    backend: 'wasm',
    memoryBudgetBytes: createdAt,
    layerTokensPerSecond: 10,
    models: [],
  },
});

describe('peer table', () => {
  it('keeps the newest announcement per peer, in peer-id order, and drops expired ones', () => {
    const table = new PeerTable();
    expect(table.upsert(announcement('P2', 100))).toBe(true);
    expect(table.upsert(announcement('P1', 200))).toBe(true);
    expect(table.upsert(announcement('P2', 50))).toBe(false);
    expect(table.upsert(announcement('P2', 100))).toBe(false);
    expect(table.upsert(announcement('P2', 150))).toBe(true);
    expect(table.list().map((a) => [a.body.peerId, a.createdAt])).toEqual([
      ['P1', 200],
      ['P2', 150],
    ]);
    expect(table.plannerPeers((id) => (id === 'P1' ? 4 : Infinity))).toEqual([
      { peerId: 'P1', role: 'server', memoryBudgetBytes: 200, layerTokensPerSecond: 10, rttMs: 4 },
      { peerId: 'P2', role: 'server', memoryBudgetBytes: 150, layerTokensPerSecond: 10, rttMs: Infinity },
    ]);
    expect(table.prune(750)).toEqual(['P2']);
    expect(table.size).toBe(1);
    expect(table.remove('P1')).toBe(true);
    expect(table.size).toBe(0);
  });
});
