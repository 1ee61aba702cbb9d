// The forward pass's reusable buffers: exact-length views, one buffer per name, grown when needed.
import { describe, expect, it } from 'vitest';
import { Scratch } from './scratch.ts';

describe('Scratch', () => {
  it('hands out exact-length views of one buffer per name, growing it for a longer request', () => {
    const s = new Scratch();
    const a = s.get('a', 8);
    a.fill(3);
    const shorter = s.get('a', 5);
    expect(shorter.length).toBe(5);
    expect(shorter.buffer).toBe(a.buffer); // reused, not reallocated
    expect(Array.from(shorter)).toEqual([3, 3, 3, 3, 3]);
    expect(s.get('b', 8).buffer).not.toBe(a.buffer);
    const longer = s.get('a', 12);
    expect(longer.length).toBe(12);
    expect(longer.buffer).not.toBe(a.buffer);
    expect(s.get('a', 16).length).toBe(16); // doubled on the previous growth: no new buffer
    expect(s.get('a', 16).buffer).toBe(longer.buffer);
  });
});
