import { finalizeEvent, generateSecretKey } from 'nostr-tools/pure';
import type { Event } from 'nostr-tools/pure';
import { describe, expect, it } from 'vitest';
import { MemoryEventRepository } from './memory-event-repository.ts';

const alice = generateSecretKey();
const bob = generateSecretKey();

function sign(key: Uint8Array, kind: number, createdAt: number, tags: string[][] = [], content = ''): Event {
  return JSON.parse(JSON.stringify(finalizeEvent({ kind, created_at: createdAt, tags, content }, key))) as Event;
}

describe('MemoryEventRepository', () => {
  it('drops the oldest-inserted events past its cap', () => {
    const repo = new MemoryEventRepository({ maxEvents: 3 });
    const events = [1, 2, 3, 4, 5].map((i) => sign(alice, 1, 1000 + i, [], `n${i}`));
    for (const e of events) expect(repo.upsert(e).isDuplicate).toBe(false);
    expect(repo.size).toBe(3);
    expect(repo.find({ kinds: [1] }).map((e) => e.content)).toEqual(['n5', 'n4', 'n3']);
  });

  it('reports duplicates', () => {
    const repo = new MemoryEventRepository();
    const e = sign(alice, 1, 1000);
    repo.upsert(e);
    expect(repo.upsert(e).isDuplicate).toBe(true);
  });

  it('returns newest first and respects limit, since and until', () => {
    const repo = new MemoryEventRepository();
    for (const t of [10, 30, 20]) repo.upsert(sign(alice, 1, t, [], String(t)));
    expect(repo.find({}).map((e) => e.content)).toEqual(['30', '20', '10']);
    expect(repo.find({ limit: 1 }).map((e) => e.content)).toEqual(['30']);
    expect(repo.find({ since: 15, until: 25 }).map((e) => e.content)).toEqual(['20']);
  });

  it('keeps one replaceable event per author and kind, and one addressable event per d tag', () => {
    const repo = new MemoryEventRepository();
    repo.upsert(sign(alice, 0, 100, [], 'profile v1'));
    repo.upsert(sign(alice, 0, 200, [], 'profile v2'));
    expect(repo.upsert(sign(alice, 0, 150, [], 'late old profile')).isDuplicate).toBe(true);
    repo.upsert(sign(bob, 0, 100, [], 'bob profile'));
    expect(
      repo
        .find({ kinds: [0] })
        .map((e) => e.content)
        .sort(),
    ).toEqual(['bob profile', 'profile v2']);

    repo.upsert(sign(alice, 30078, 100, [['d', 'a']], 'a1'));
    repo.upsert(sign(alice, 30078, 100, [['d', 'b']], 'b1'));
    repo.upsert(sign(alice, 30078, 101, [['d', 'a']], 'a2'));
    expect(
      repo
        .find({ kinds: [30078] })
        .map((e) => e.content)
        .sort(),
    ).toEqual(['a2', 'b1']);
    expect(repo.size).toBe(4);
  });

  it('breaks a replaceable tie on created_at by the lowest id', () => {
    const repo = new MemoryEventRepository();
    const [low, high] = [sign(alice, 0, 500, [], 'x'), sign(alice, 0, 500, [], 'y')].sort((a, b) => (a.id < b.id ? -1 : 1));
    repo.upsert(high);
    expect(repo.upsert(low).isDuplicate).toBe(false);
    expect(repo.upsert(high).isDuplicate).toBe(true);
    expect(repo.find({ kinds: [0] }).map((e) => e.id)).toEqual([low.id]);
  });

  it('hides expired events (NIP-40)', () => {
    let now = 1000;
    const repo = new MemoryEventRepository({ now: () => now });
    repo.upsert(sign(alice, 1, 900, [['expiration', '1100']], 'short-lived'));
    expect(repo.find({})).toHaveLength(1);
    now = 1100;
    expect(repo.find({})).toHaveLength(0);
  });

  it("deletes only the requester's own events (NIP-09)", async () => {
    const repo = new MemoryEventRepository();
    const mine = sign(alice, 1, 100, [], 'mine');
    const theirs = sign(bob, 1, 100, [], 'theirs');
    const addressable = sign(alice, 30078, 100, [['d', 'peer']], 'announce');
    for (const e of [mine, theirs, addressable]) repo.upsert(e);
    await repo.deleteByDeletionRequest(
      sign(alice, 5, 200, [
        ['e', mine.id],
        ['e', theirs.id],
        ['a', `30078:${addressable.pubkey}:peer`],
      ]),
    );
    expect(repo.find({}).map((e) => e.content)).toEqual(['theirs']);
  });
});
