import { describe, expect, it } from 'vitest';
import { utf8 } from '../bytes.ts';
import { decodeHello, encodeHello } from './activation-hello.ts';

describe('activation hello', () => {
  it('round-trips', () => {
    const hello = { model: 'tiny-llama-4l-f32', layers: { start: 1, end: 3 }, planEpoch: 4 };
    expect(decodeHello(encodeHello(hello))).toEqual({ ok: true, value: hello });
  });

  it('round-trips a chained hello, and still reads one without a chain', () => {
    const peerId = '12D3KooWCbVeT3CHKksbpzpFrF1fVWTYgfpD9M9MHUsYQqnSLLTd';
    const hello = {
      model: 'm',
      layers: { start: 0, end: 2 },
      planEpoch: 1,
      chain: { token: 'ab'.repeat(16), feed: true, next: [{ peerId, layers: { start: 2, end: 4 } }] },
    };
    expect(decodeHello(encodeHello(hello))).toEqual({ ok: true, value: hello });
    expect(decodeHello(encodeHello({ model: 'm', layers: { start: 0, end: 2 }, planEpoch: 1 }))).toEqual({
      ok: true,
      value: { model: 'm', layers: { start: 0, end: 2 }, planEpoch: 1 },
    });
  });

  it('refuses malformed chains', () => {
    const peerId = '12D3KooWCbVeT3CHKksbpzpFrF1fVWTYgfpD9M9MHUsYQqnSLLTd';
    const base = { model: 'm', layers: { start: 0, end: 2 }, planEpoch: 1 };
    const hop = { peerId, layers: { start: 2, end: 4 } };
    const bad = [
      { ...base, chain: { token: 'AB'.repeat(16), feed: true, next: [] } },
      { ...base, chain: { token: 'ab'.repeat(15), feed: true, next: [] } },
      { ...base, chain: { token: 'ab'.repeat(16), feed: 'yes', next: [] } },
      { ...base, chain: { token: 'ab'.repeat(16), feed: true, next: [{ ...hop, peerId: 'not a peer id' }] } },
      { ...base, chain: { token: 'ab'.repeat(16), feed: true, next: [{ ...hop, layers: { start: 4, end: 2 } }] } },
      { ...base, chain: { token: 'ab'.repeat(16), feed: true, next: Array.from({ length: 65 }, () => hop) } },
      { ...base, chain: 'all of them' },
    ];
    for (const hello of bad) expect(decodeHello(utf8(JSON.stringify(hello))).ok).toBe(false);
  });

  it('refuses malformed, oversized and out-of-range hellos without throwing', () => {
    const bad = [
      new Uint8Array([0xff, 0xfe]),
      utf8('not json'),
      utf8('{"model":"m","layers":{"start":3,"end":3},"planEpoch":0}'),
      utf8('{"model":"m","layers":{"start":0,"end":2},"planEpoch":-1}'),
      utf8('{"model":"m","planEpoch":0}'),
      utf8(JSON.stringify({ model: 'm'.repeat(2000), layers: { start: 0, end: 1 }, planEpoch: 0 })),
    ];
    for (const bytes of bad) expect(decodeHello(bytes).ok).toBe(false);
  });
});
