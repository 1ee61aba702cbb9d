import { describe, expect, it } from 'vitest';
import { MetricsStore } from './metrics-store.ts';

describe('MetricsStore', () => {
  it('keeps the newest samples up to its limit and tells listeners', () => {
    const store = new MetricsStore(3);
    let calls = 0;
    store.onChange(() => calls++);
    for (let i = 1; i <= 5; i++) store.recordReply({ at: i, model: 'm', tokens: 10, tokensPerSecond: i * 2, via: 'page' });
    expect(store.replies().map((r) => r.at)).toEqual([3, 4, 5]);
    expect(calls).toBe(5);
  });
  it('skips replies without a measurable speed', () => {
    const store = new MetricsStore();
    store.recordReply({ at: 1, model: 'm', tokens: 1, tokensPerSecond: null, via: '' });
    store.recordReply({ at: 2, model: 'm', tokens: 1, tokensPerSecond: 0, via: '' });
    expect(store.replies()).toHaveLength(0);
  });
  it('lists errors newest first', () => {
    const store = new MetricsStore();
    store.recordError({ at: 1, where: 'Playground', title: 'a', detail: '' });
    store.recordError({ at: 2, where: 'Playground', title: 'b', detail: '' });
    expect(store.errors().map((e) => e.title)).toEqual(['b', 'a']);
  });
});
