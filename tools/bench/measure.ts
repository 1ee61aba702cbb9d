// Timing primitives the benchmarks share: best-of-batches wall time, and the machine's memory
// bandwidth measured as a large typed-array copy (the roofline every other number is read against),
// and the CPU time other processes take meanwhile (a loaded machine makes every figure doubtful).
import { readdirSync, readFileSync } from 'node:fs';

/** Seconds per call: runs fn in doubling batches for about `seconds` and keeps the best batch. */
export function timeIt(fn: () => void, seconds: number): number {
  fn();
  let best = Infinity,
    spent = 0,
    reps = 1;
  while (spent < seconds) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    const dt = (performance.now() - t0) / 1000;
    best = Math.min(best, dt / reps);
    spent += dt;
    if (dt < 0.05) reps *= 2;
  }
  return best;
}

/** GB/s of a 256 MiB Float64Array copy, read plus write counted. */
export function copyBandwidth(): number {
  const a = new Float64Array(32 * 2 ** 20),
    b = new Float64Array(32 * 2 ** 20);
  a.fill(1);
  return (2 * a.byteLength) / timeIt(() => b.set(a), 1) / 1e9;
}

/** CPU time so far, in seconds: the whole machine's busy time, and this process's with its descendants. */
export interface CpuSample {
  readonly at: number;
  readonly machine: number;
  readonly mine: number;
}

const TICK = 100; // USER_HZ: /proc counts in 1/100 s on every Linux this runs on

function statFields(text: string): string[] {
  return text.slice(text.lastIndexOf(')') + 2).split(' '); // [0] is the state; the name may hold spaces
}

/** A CPU-time sample from /proc (Linux); undefined elsewhere. */
export function cpuSample(): CpuSample | undefined {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const machine = cpu.reduce((s, v) => s + v, 0) - cpu[3] - cpu[4] - (cpu[8] ?? 0) - (cpu[9] ?? 0); // less idle, iowait, guest (in user)
    const parent = new Map<number, number>(),
      ticks = new Map<number, number>();
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const f = statFields(readFileSync(`/proc/${name}/stat`, 'utf8'));
        parent.set(Number(name), Number(f[1]));
        ticks.set(Number(name), Number(f[11]) + Number(f[12]) + (Number(name) === process.pid ? Number(f[13]) + Number(f[14]) : 0));
      } catch {
        /* exited meanwhile */
      }
    }
    const mineOf = (pid: number): boolean => {
      for (let p = pid, hops = 0; p > 1 && hops < 64; p = parent.get(p) ?? 0, hops++) if (p === process.pid) return true;
      return false;
    };
    let mine = 0;
    for (const [pid, t] of ticks) if (mineOf(pid)) mine += t;
    return { at: performance.now(), machine: machine / TICK, mine: mine / TICK };
  } catch {
    return undefined;
  }
}

/** Cores kept busy by everything outside this process tree between two samples (NaN if unknown). */
export function otherCores(a: CpuSample | undefined, b: CpuSample | undefined): number {
  if (!a || !b || b.at <= a.at) return NaN;
  return Math.max(0, b.machine - a.machine - (b.mine - a.mine)) / ((b.at - a.at) / 1000);
}

/**
 * Waits (up to maxMs) for a window of `windowMs` in which other processes kept fewer than `cores`
 * cores busy, so a measurement starts on a quiet machine where it can; returns that window's load.
 */
export async function waitForQuiet(cores: number, maxMs: number, windowMs = 250): Promise<number> {
  const start = performance.now();
  for (;;) {
    const a = cpuSample();
    await new Promise((r) => setTimeout(r, windowMs));
    const load = otherCores(a, cpuSample());
    if (!(load >= cores) || performance.now() - start >= maxMs) return load; // NaN (no /proc) never waits
  }
}
