import { describe, expect, it } from 'vitest';
import { RateMeter } from './models-rate.ts';

describe('RateMeter', () => {
  it('measures bytes per second over its window and predicts time left', () => {
    const meter = new RateMeter(2000);
    expect(meter.rate()).toBeNull();
    meter.add(0, 0);
    meter.add(1000, 1_000_000);
    expect(meter.rate()).toBe(1_000_000);
    expect(meter.secondsLeft(1_000_000, 5_000_000)).toBe(4);
    expect(meter.secondsLeft(1_000_000, null)).toBeNull();
  });

  it('forgets samples older than the window, so a speed change shows', () => {
    const meter = new RateMeter(2000);
    meter.add(0, 0);
    meter.add(1000, 10_000_000); // fast start
    for (let t = 2000; t <= 6000; t += 1000) meter.add(t, 10_000_000 + (t - 1000) * 100); // then 100 KB/s
    expect(meter.rate()).toBeCloseTo(100_000, 0);
  });
});
