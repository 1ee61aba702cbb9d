// Starts the real `npm start` stack (scripts/start.ts under the project's Node 22) on free ports for a
// browser test, waits for its `name: URL` lines, and stops it again. Every spec that needs the app,
// the relay, the API or the libp2p node uses this instead of starting servers of its own.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const root = join(import.meta.dirname, '..', '..');
const SERVICES = ['app', 'nostr', 'api', 'libp2p'] as const;
export type ServiceName = (typeof SERVICES)[number];

export interface Stack {
  /** The URL of each service it printed (with `services`, only those). */
  urls: Record<ServiceName, string>;
  /** Every other `name: value` line printed before the URLs, e.g. `invite` (the private mesh's link). */
  printed: Record<string, string>;
  /** What the stack wrote to stderr so far (build and model notes, errors): attach it when a test fails. */
  log(): string;
  /** SIGTERM, then SIGKILL after a grace period; resolves once the process has exited. */
  stop(): Promise<void>;
}

export interface StackOptions {
  /** Extra flags for scripts/start.ts, e.g. ['--skip-model']. Ports are always 0 (free ones). */
  args?: string[];
  /** How long a first start may take: it builds the app and may generate the model. */
  startTimeoutMs?: number;
  /** Runs the stack through this command line, e.g. inside a network namespace (support/netns.ts). */
  wrap?: (argv: string[]) => string[];
  /** The URL lines to wait for (default all four; `--static-only` prints only app and nostr). */
  services?: readonly ServiceName[];
}

export class StackError extends Error {
  readonly code = 'stack_start_failed';
  constructor(message: string) {
    super(message);
    this.name = 'StackError';
  }
}

/** The model a stack serves unless its args name another. */
export const STACK_MODEL = 'tiny-llama-q8_0';

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const args = [
    'scripts/start.ts',
    '--app-port',
    '0',
    '--nostr-port',
    '0',
    '--api-port',
    '0',
    '--libp2p-port',
    '0',
    '--quic-port',
    '0',
    '--webtransport-port',
    '0',
    // The specs name the model they talk to (tiny-llama-q8_0), not npm start's default (the trained one).
    ...(options.args?.includes('--model') ? [] : ['--model', STACK_MODEL]),
    ...(options.args ?? []),
  ];
  const argv = (options.wrap ?? ((a: string[]) => a))([join(root, 'node_modules', '.bin', 'node'), ...args]);
  const child = spawn(argv[0], argv.slice(1), { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const printed: Record<string, string> = {};
  const services = options.services ?? SERVICES;
  const urls = await new Promise<Record<ServiceName, string>>((resolve, reject) => {
    const found: Partial<Record<ServiceName, string>> = {};
    const fail = (why: string) => {
      child.kill('SIGKILL');
      reject(new StackError(`npm start ${why}.\n--- its stderr ---\n${stderr}`));
    };
    const timer = setTimeout(() => fail(`printed no service URLs within ${(options.startTimeoutMs ?? 150_000) / 1000} s`), options.startTimeoutMs ?? 150_000);
    const onEarlyExit = (code: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(timer);
      fail(`exited (${signal ?? `code ${code}`}) before printing every service URL`);
    };
    child.once('exit', onEarlyExit);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const match = /^(\w+): (\S+)$/.exec(line.trim());
      if (match && !SERVICES.includes(match[1] as ServiceName)) printed[match[1]] = match[2];
      if (!match || !SERVICES.includes(match[1] as ServiceName)) return;
      found[match[1] as ServiceName] = match[2];
      if (services.every((name) => found[name])) {
        clearTimeout(timer);
        child.off('exit', onEarlyExit);
        resolve(found as Record<ServiceName, string>);
      }
    });
  });

  return { urls, printed, log: () => stderr, stop: () => stopChild(child, exited) };
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}
