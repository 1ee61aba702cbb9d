import { describe, expect, it } from 'vitest';
import { encodeActivationFrame } from '../../protocol/mesh-activation-frame.ts';
import { decodeStatus, encodeProbe, encodeStatus, isProbe } from './chain-status.ts';

describe('chain status messages', () => {
  it('round-trip, flags included', () => {
    for (const s of [
      { done: 0, forwardFailed: false, wired: false },
      { done: 4_000_000_000, forwardFailed: true, wired: false },
      { done: 7, forwardFailed: false, wired: true },
    ]) {
      expect(decodeStatus(encodeStatus(s))).toEqual(s);
    }
    expect(isProbe(encodeProbe())).toBe(true);
  });

  it('are never mistaken for each other or for an activation frame', () => {
    const frame = encodeActivationFrame({
      dtype: 'f32',
      sessionId: new Uint8Array(16),
      planEpoch: 0,
      position: 0,
      tokenCount: 1,
      width: 1,
      payload: new Uint8Array(4),
    });
    expect(isProbe(frame)).toBe(false);
    expect(decodeStatus(frame)).toBeUndefined();
    expect(isProbe(encodeStatus({ done: 1, forwardFailed: false, wired: false }))).toBe(false);
    expect(decodeStatus(encodeProbe())).toBeUndefined();
    const badFlags = encodeStatus({ done: 1, forwardFailed: true, wired: true });
    badFlags[8] = 8;
    expect(decodeStatus(badFlags)).toBeUndefined();
    badFlags[8] = 4;
    expect(decodeStatus(badFlags)).toEqual({ done: 1, forwardFailed: false, wired: false, fedNonFinite: true });
    expect(decodeStatus(new Uint8Array(0))).toBeUndefined();
    expect(isProbe(new Uint8Array(0))).toBe(false);
  });
});
