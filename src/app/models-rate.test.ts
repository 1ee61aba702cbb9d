import { describe, expect, it } from 'vitest';
import { formatBytes, formatDuration, RateMeter } from './models-rate.ts';

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

describe('formats', () => {
  it('bytes in decimal units', () => {
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(5_183_072)).toBe('5.2 MB');
    expect(formatBytes(491_000_000)).toBe('491 MB');
    expect(formatBytes(1.12e9)).toBe('1.1 GB');
  });

  it('durations', () => {
    expect(formatDuration(0.2)).toBe('under a second');
    expect(formatDuration(42)).toBe('42 s');
    expect(formatDuration(125)).toBe('2 min 5 s');
    expect(formatDuration(3 * 3600 + 600)).toBe('3 h 10 min');
  });
});
