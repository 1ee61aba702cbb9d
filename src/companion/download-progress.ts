// How a model download shows on stderr: a bar redrawn in place on a terminal, and plain lines every
// few seconds when stderr is a file or a pipe (CI logs, `npm start 2> log`), where a bar would be noise.
import type { DownloadProgress } from './model-download.ts';

export interface ProgressStream {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(text: string): unknown;
}

export interface ProgressOptions {
  /** Milliseconds since some origin (default performance.now). */
  readonly now?: () => number;
  /** A bar redraws at most this often (default 100 ms). */
  readonly redrawMs?: number;
  /** Without a terminal, one line this often (default 5 s). */
  readonly lineMs?: number;
  /** Put before each plain line (npm start: `start: `). */
  readonly prefix?: string;
}

const MIB = 1024 * 1024;

function mib(bytes: number): string {
  return (bytes / MIB).toFixed(1);
}

function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** Returns the onProgress callback of downloadModel, drawing on `out`. */
export function progressReporter(out: ProgressStream, o: ProgressOptions = {}): (p: DownloadProgress) => void {
  const now = o.now ?? (() => performance.now());
  const tty = out.isTTY === true;
  const interval = tty ? (o.redrawMs ?? 100) : (o.lineMs ?? 5000);
  let file: string | undefined;
  let started = 0;
  let last = -Infinity;
  return (p) => {
    const t = now();
    if (p.file !== file) {
      file = p.file;
      started = t;
      last = -Infinity;
    }
    if (!p.done && t - last < interval) return;
    last = t;
    const seconds = (t - started) / 1000;
    const rate = seconds > 0 ? p.fetched / seconds : 0;
    const label = p.parts > 1 ? `${p.file} (${p.part}/${p.parts})` : p.file;
    const fraction = p.total ? p.received / p.total : undefined;
    const size = p.total === undefined ? `${mib(p.received)} MiB` : `${mib(p.received)}/${mib(p.total)} MiB`;
    const eta = fraction !== undefined && rate > 0 && !p.done ? ` ${clock((p.total! - p.received) / rate)} left` : '';
    const speed = rate > 0 ? `${mib(rate)} MiB/s` : '';
    if (p.done) {
      const line = `downloaded ${label}: ${mib(p.received)} MiB${p.fetched > 0 ? ` in ${clock(seconds)}${speed ? ` (${speed})` : ''}` : ''}`;
      out.write(tty ? `\r\x1b[2K${o.prefix ?? ''}${line}\n` : `${o.prefix ?? ''}${line}\n`);
      return;
    }
    const percent = fraction === undefined ? '' : `${(fraction * 100).toFixed(0).padStart(3)}% `;
    if (!tty) {
      out.write(`${o.prefix ?? ''}downloading ${label}: ${[`${percent}${size}`, speed].filter(Boolean).join(' ')}${eta}\n`);
      return;
    }
    const text = `${[`${percent}${size}`, speed].filter(Boolean).join(' ')}${eta}`;
    const width = Math.max(10, Math.min(40, (out.columns ?? 80) - label.length - text.length - 6));
    const filled = fraction === undefined ? 0 : Math.round(Math.min(1, fraction) * width);
    out.write(`\r\x1b[2K${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${text}`);
  };
}
