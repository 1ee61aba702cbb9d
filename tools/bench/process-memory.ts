// Peak memory of the browser's processes, read from Linux's /proc: the renderer a page (and its
// dedicated workers, which run inside it) was given, found among this process's descendants.
import { readdirSync, readFileSync } from 'node:fs';

function readOr(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined; // the process ended meanwhile
  }
}

/** Pids of Chromium renderer processes descended from this Node process (empty off Linux). */
export function rendererPids(): Set<number> {
  const children = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return new Set();
  }
  for (const e of entries) {
    const stat = readOr(`/proc/${e}/stat`);
    const ppid = stat ? Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) : Number.NaN;
    if (!Number.isNaN(ppid)) children.set(ppid, [...(children.get(ppid) ?? []), Number(e)]);
  }
  const out = new Set<number>();
  const todo = [process.pid];
  while (todo.length) {
    const pid = todo.pop()!;
    for (const c of children.get(pid) ?? []) {
      todo.push(c);
      if (readOr(`/proc/${c}/cmdline`)?.includes('--type=renderer')) out.add(c);
    }
  }
  return out;
}

/** The renderers that appeared since `before` was taken (rendererPids()). */
export function newRenderers(before: ReadonlySet<number>): number[] {
  return [...rendererPids()].filter((p) => !before.has(p));
}

/** The largest peak resident set (VmHWM) among `pids`, in bytes; undefined when none can be read. */
export function peakRss(pids: readonly number[]): number | undefined {
  let best: number | undefined;
  for (const p of pids) {
    const m = /VmHWM:\s*(\d+) kB/.exec(readOr(`/proc/${p}/status`) ?? '');
    if (m) best = Math.max(best ?? 0, Number(m[1]) * 1024);
  }
  return best;
}
