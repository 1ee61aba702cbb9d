import { describe, expect, it } from 'vitest';
import { utf8 } from '../bytes.ts';
import { decodeHello, encodeHello } from './activation-hello.ts';

describe('activation hello', () => {
  it('round-trips', () => {
    const hello = { model: 'tiny-llama-4l-f32', layers: { start: 1, end: 3 }, planEpoch: 4 };
    expect(decodeHello(encodeHello(hello))).toEqual({ ok: true, value: hello });
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
