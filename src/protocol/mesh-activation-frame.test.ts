// The frame decoder's hard limits: a token count over MAX_FRAME_TOKENS, and any NaN or infinite
// value in an f32 or f16 payload, are refused with a reason naming the value; finite extremes pass.
import { describe, expect, it } from 'vitest';
import { decodeActivationFrame, encodeActivationFrame, MAX_FRAME_TOKENS, type FrameDtype } from './mesh-activation-frame.ts';

const frame = (dtype: FrameDtype, tokenCount: number, width: number, payload: Uint8Array) =>
  encodeActivationFrame({ dtype, sessionId: new Uint8Array(16), planEpoch: 0, position: 0, tokenCount, width, payload });
const f32 = (values: number[]) => new Uint8Array(Float32Array.from(values).buffer);
const f16 = (bits: number[]) => new Uint8Array(Uint16Array.from(bits).buffer);

describe('activation frame limits', () => {
  it('refuses NaN and ±Infinity in f32 frames, naming the value, and passes finite extremes', () => {
    const finite = [0, -0, 1e-45, -3.4028234663852886e38, 3.4028234663852886e38, 1.17e-38];
    expect(decodeActivationFrame(frame('f32', 2, 3, f32(finite))).ok).toBe(true);
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const values = [...finite];
      values[4] = bad;
      const r = decodeActivationFrame(frame('f32', 2, 3, f32(values)));
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toMatch(/value 4 \(token 1\) is NaN or infinite/);
    }
  });

  it('refuses NaN and ±Infinity in f16 frames (all exponent bits set), and passes the largest finite half', () => {
    expect(decodeActivationFrame(frame('f16', 1, 4, f16([0x0000, 0x7bff, 0xfbff, 0x0001]))).ok).toBe(true);
    for (const bad of [0x7c00, 0xfc00, 0x7e00, 0x7c01]) {
      const r = decodeActivationFrame(frame('f16', 1, 4, f16([0x3c00, 0x3c00, bad, 0x3c00])));
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toMatch(/value 2 \(token 0\)/);
    }
  });

  it(`caps a frame at ${MAX_FRAME_TOKENS} tokens`, () => {
    expect(MAX_FRAME_TOKENS).toBeLessThanOrEqual(1024);
    expect(decodeActivationFrame(frame('f32', MAX_FRAME_TOKENS, 2, new Uint8Array(MAX_FRAME_TOKENS * 8))).ok).toBe(true);
    const r = decodeActivationFrame(frame('f32', MAX_FRAME_TOKENS + 1, 2, new Uint8Array((MAX_FRAME_TOKENS + 1) * 8)));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/token count/);
  });
});
