import { describe, expect, it } from 'vitest';
import { ApiError } from '../protocol/api-error.ts';
import { FairQueue } from './queue.ts';

const never = new AbortController().signal;

describe('FairQueue', () => {
  it('runs up to `concurrency` at once and grants the rest round-robin between clients', async () => {
    const q = new FairQueue({ concurrency: 1, maxQueued: 10, retryAfterSeconds: 1 });
    const order: string[] = [];
    const first = await q.acquire('a', never);
    // client a floods the queue before b and c ask once each; each holder finishes at once
    const waits = ['a1', 'a2', 'a3', 'b1', 'c1'].map((name) =>
      q.acquire(name[0], never).then((release) => {
        order.push(name);
        expect(q.stats.running).toBe(1);
        release();
      }),
    );
    expect(q.stats).toEqual({ running: 1, queued: 5 });
    first();
    await Promise.all(waits);
    expect(order).toEqual(['a1', 'b1', 'c1', 'a2', 'a3']);
    expect(q.stats).toEqual({ running: 0, queued: 0 });
  });

  it('answers 429 with a retry hint when the queue is full', async () => {
    const q = new FairQueue({ concurrency: 1, maxQueued: 1, retryAfterSeconds: 3 });
    await q.acquire('a', never);
    void q.acquire('b', never);
    const e = await q.acquire('c', never).catch((x) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect(e).toMatchObject({ status: 429, retryAfter: 3 });
  });

  it('drops a waiter whose client aborts, and frees its place', async () => {
    const q = new FairQueue({ concurrency: 1, maxQueued: 1, retryAfterSeconds: 1 });
    const release = await q.acquire('a', never);
    const abort = new AbortController();
    const waiting = q.acquire('b', abort.signal);
    abort.abort();
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
    expect(q.stats).toEqual({ running: 1, queued: 0 });
    const next = q.acquire('c', never);
    release();
    release(); // twice is harmless
    (await next)();
    expect(q.stats).toEqual({ running: 0, queued: 0 });
  });
});
