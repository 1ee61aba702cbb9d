import { finalizeEvent, generateSecretKey } from 'nostr-tools/pure';
import type { Event } from 'nostr-tools/pure';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startNostrRelay } from './nostr-relay.ts';
import type { RunningNostrRelay } from './nostr-relay.ts';

let relay: RunningNostrRelay;
let url: string;
const secret = generateSecretKey();

beforeAll(async () => {
  relay = await startNostrRelay({ host: '127.0.0.1', port: 0, maxEvents: 50 });
  url = `ws://127.0.0.1:${relay.port}`;
});

afterAll(async () => {
  await relay.stop();
});

/** A relay connection that queues every message so tests can await the next one of a type. */
class Client {
  readonly ws: WebSocket;
  private readonly inbox: unknown[][] = [];
  private waiters: Array<() => void> = [];

  constructor() {
    this.ws = new WebSocket(url);
    this.ws.on('message', (data) => {
      this.inbox.push(JSON.parse(String(data)) as unknown[]);
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  async open(): Promise<this> {
    if (this.ws.readyState !== WebSocket.OPEN) await new Promise((resolve) => this.ws.once('open', resolve));
    return this;
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** The next message of a type; messages of other types stay queued. */
  next(type: string, timeoutMs = 2000): Promise<unknown[]> {
    return this.take((m) => m[0] === type, `${type} message`, timeoutMs);
  }

  /** Every EVENT for `subscription` up to its EOSE. */
  async stored(subscription: string): Promise<Event[]> {
    const events: Event[] = [];
    for (;;) {
      const message = await this.take((m) => (m[0] === 'EVENT' || m[0] === 'EOSE') && m[1] === subscription, `EOSE for ${subscription}`);
      if (message[0] === 'EOSE') return events;
      events.push(message[2] as Event);
    }
  }

  private async take(match: (m: unknown[]) => boolean, what: string, timeoutMs = 2000): Promise<unknown[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.inbox.findIndex(match);
      if (index >= 0) return this.inbox.splice(index, 1)[0];
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} within ${timeoutMs} ms; got ${JSON.stringify(this.inbox)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.ws.close();
  }
}

function sign(kind: number, content: string, tags: string[][] = [], createdAt = Math.floor(Date.now() / 1000)): Event {
  // Through JSON, as on the wire (finalizeEvent also tags the object with a symbol).
  return JSON.parse(JSON.stringify(finalizeEvent({ kind, content, tags, created_at: createdAt }, secret))) as Event;
}

async function publish(client: Client, event: Event): Promise<{ ok: boolean; message: string }> {
  client.send(['EVENT', event]);
  const [, id, ok, message] = await client.next('OK');
  expect(id).toBe(event.id);
  return { ok: ok as boolean, message: message as string };
}

describe('local nostr relay', () => {
  it('stores a signed event, delivers it live to a subscriber and to a later query', async () => {
    const subscriber = await new Client().open();
    subscriber.send(['REQ', 'live', { kinds: [1], '#t': ['mesh-a'] }]);
    await subscriber.next('EOSE');

    const publisher = await new Client().open();
    const event = sign(1, 'hello mesh', [['t', 'mesh-a']]);
    expect(await publish(publisher, event)).toEqual({ ok: true, message: '' });

    const [, subscription, delivered] = await subscriber.next('EVENT');
    expect(subscription).toBe('live');
    expect(delivered).toEqual(event);

    const reader = await new Client().open();
    reader.send(['REQ', 'stored', { ids: [event.id] }]);
    expect(await reader.stored('stored')).toEqual([event]);
    for (const c of [subscriber, publisher, reader]) c.close();
  });

  it('rejects a forged event and never stores or forwards it', async () => {
    const subscriber = await new Client().open();
    subscriber.send(['REQ', 'watch', { kinds: [1], '#t': ['forgery'] }]);
    await subscriber.next('EOSE');

    const client = await new Client().open();
    const genuine = sign(1, 'I will pay 1 sat', [['t', 'forgery']]);
    const forged = { ...genuine, content: 'I will pay 1000 sats' };
    const result = await publish(client, forged);
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/invalid/);

    const otherKey = sign(1, 'x', [['t', 'forgery']]);
    const wrongSig = { ...otherKey, sig: genuine.sig };
    expect((await publish(client, wrongSig)).ok).toBe(false);

    client.send(['REQ', 'q', { ids: [forged.id, wrongSig.id] }]);
    expect(await client.stored('q')).toEqual([]);
    await expect(subscriber.next('EVENT', 200)).rejects.toThrow(/no EVENT/);
    client.close();
    subscriber.close();
  });

  it('honours tag filters for live subscribers as well as for stored queries', async () => {
    const subscriber = await new Client().open();
    subscriber.send(['REQ', 'only-b', { kinds: [1], '#t': ['mesh-b'] }]);
    await subscriber.next('EOSE');
    const publisher = await new Client().open();
    const other = sign(1, 'for mesh c', [['t', 'mesh-c']]);
    const mine = sign(1, 'for mesh b', [['t', 'mesh-b']]);
    await publish(publisher, other);
    await publish(publisher, mine);
    const [, , delivered] = await subscriber.next('EVENT');
    expect((delivered as Event).id).toBe(mine.id);
    await expect(subscriber.next('EVENT', 200)).rejects.toThrow(/no EVENT/);

    publisher.send(['REQ', 'q', { kinds: [1], '#t': ['mesh-c'] }]);
    expect((await publisher.stored('q')).map((e) => e.id)).toEqual([other.id]);
    subscriber.close();
    publisher.close();
  });

  it('keeps only the newest addressable event and refuses expired ones', async () => {
    const client = await new Client().open();
    const now = Math.floor(Date.now() / 1000);
    const old = sign(30078, 'v1', [['d', 'peer-1']], now - 10);
    const fresh = sign(30078, 'v2', [['d', 'peer-1']], now);
    await publish(client, old);
    await publish(client, fresh);
    client.send(['REQ', 'q', { kinds: [30078], '#d': ['peer-1'] }]);
    expect((await client.stored('q')).map((e) => e.content)).toEqual(['v2']);

    const expired = sign(1, 'gone', [['expiration', String(now - 1)]]);
    const result = await publish(client, expired);
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/expired/);
    client.close();
  });

  it('answers malformed messages with a NOTICE and keeps serving', async () => {
    const client = await new Client().open();
    client.send('not json');
    expect((await client.next('NOTICE'))[1]).toMatch(/invalid/);
    client.send(['EVENT', { kind: 'x' }]);
    expect((await client.next('NOTICE'))[1]).toMatch(/invalid/);
    expect((await publish(client, sign(1, 'still here'))).ok).toBe(true);
    client.close();
  });

  it('describes itself over NIP-11', async () => {
    const res = await fetch(`http://127.0.0.1:${relay.port}/`, { headers: { Accept: 'application/nostr+json' } });
    const info = (await res.json()) as { supported_nips: number[] };
    expect(info.supported_nips).toContain(1);
  });
});
