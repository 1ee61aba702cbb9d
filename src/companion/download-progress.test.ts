import { describe, expect, it } from 'vitest';
import { progressReporter } from './download-progress.ts';
import type { DownloadProgress } from './model-download.ts';

const MIB = 1024 * 1024;

function run(isTTY: boolean, steps: [ms: number, p: Partial<DownloadProgress>][]): string {
  let out = '';
  let t = 0;
  const report = progressReporter(
    {
      isTTY,
      columns: 100,
      write: (s) => {
        out += s;
      },
    },
    { now: () => t, prefix: 'start: ' },
  );
  for (const [ms, p] of steps) {
    t = ms;
    report({ file: 'm.gguf', part: 1, parts: 1, received: 0, total: 100 * MIB, fetched: 0, done: false, ...p });
  }
  return out;
}

describe('progressReporter', () => {
  const steps: [number, Partial<DownloadProgress>][] = [
    [0, { received: 10 * MIB, fetched: 0 }],
    [50, { received: 11 * MIB, fetched: MIB }], // within the redraw interval: skipped
    [1000, { received: 30 * MIB, fetched: 20 * MIB }],
    [6000, { received: 60 * MIB, fetched: 50 * MIB }],
    [9000, { received: 100 * MIB, fetched: 90 * MIB, done: true }],
  ];

  it('redraws one bar in place on a terminal and ends it with a line', () => {
    const out = run(true, steps);
    const frames = out.split('\r\x1b[2K').filter(Boolean);
    expect(frames).toHaveLength(4);
    expect(frames[1]).toMatch(/^m\.gguf \[#+-+\] {2}30% 30\.0\/100\.0 MiB 20\.0 MiB\/s 0:04 left$/);
    expect(frames[3]).toBe('start: downloaded m.gguf: 100.0 MiB in 0:09 (10.0 MiB/s)\n');
    expect(out.slice(0, -1)).not.toContain('\n');
  });

  it('writes plain lines every few seconds when stderr is not a terminal', () => {
    const lines = run(false, steps).trimEnd().split('\n');
    expect(lines).toEqual([
      'start: downloading m.gguf:  10% 10.0/100.0 MiB',
      'start: downloading m.gguf:  60% 60.0/100.0 MiB 8.3 MiB/s 0:05 left',
      'start: downloaded m.gguf: 100.0 MiB in 0:09 (10.0 MiB/s)',
    ]);
  });

  it('names the shard of a split model and copes without a length', () => {
    let out = '';
    const report = progressReporter(
      {
        isTTY: false,
        write: (s) => {
          out += s;
        },
      },
      { now: () => 0 },
    );
    report({ file: 'big-00002-of-00003.gguf', part: 2, parts: 3, received: 5 * MIB, total: undefined, fetched: 5 * MIB, done: false });
    expect(out).toBe('downloading big-00002-of-00003.gguf (2/3): 5.0 MiB\n');
  });
});
