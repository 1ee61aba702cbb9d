import { describe, expect, it } from 'vitest';
import { formatBytes, formatDuration } from './format.ts';

describe('formats', () => {
  it('bytes in binary units', () => {
    expect(formatBytes(12)).toBe('12 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(450_000)).toBe('439 KiB');
    expect(formatBytes(5_183_072)).toBe('4.9 MiB');
    expect(formatBytes(256 * 1024 ** 2)).toBe('256 MiB');
    expect(formatBytes(1.5 * 1024 ** 3)).toBe('1.5 GiB');
    expect(formatBytes(2 * 1024 ** 3)).toBe('2 GiB');
  });

  it('durations', () => {
    expect(formatDuration(0.2)).toBe('under a second');
    expect(formatDuration(42)).toBe('42 s');
    expect(formatDuration(125)).toBe('2 min 5 s');
    expect(formatDuration(3 * 3600 + 600)).toBe('3 h 10 min');
  });
});
