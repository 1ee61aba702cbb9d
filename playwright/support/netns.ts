// A private network namespace for browser tests that need WebRTC: Chromium gathers ICE candidates
// only on the interface holding the default route, never on loopback, so the namespace gets a veth
// pair with a test address (198.18.0.1/24, a benchmarking range) and a default route on it. Nothing
// leaves it: the pair's other end is in the same namespace. The stack and Chromium run inside it
// (nsenter); Playwright drives Chromium over a pipe, which does not care about namespaces.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromiumPath } from './browser.ts';

export const NETNS_ADDRESS = '198.18.0.1';

export interface Netns {
  /** The command line that runs `argv` inside the namespace. */
  wrap(argv: string[]): string[];
  /** An executable that starts Chromium inside the namespace (for launch's executablePath). */
  readonly chromiumPath: string;
  close(): Promise<void>;
}

const SETUP = [
  'ip link set lo up',
  'ip link add veth0 type veth peer name veth1',
  `ip addr add ${NETNS_ADDRESS}/24 dev veth0`,
  'ip link set veth0 up',
  'ip link set veth1 up',
  'ip route add default dev veth0',
  'echo ready',
  'exec sleep 100000',
].join(' && ');

/** A namespace held by a sleeping process, or null (with the reason) where unshare/nsenter are unavailable. */
export async function startNetns(): Promise<{ netns: Netns } | { netns: null; reason: string }> {
  let holder: ChildProcess;
  try {
    holder = spawn('unshare', ['-rn', 'sh', '-c', SETUP], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    return { netns: null, reason: (error as Error).message };
  }
  let stderr = '';
  holder.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const ready = await new Promise<boolean>((resolve) => {
    holder.once('error', () => resolve(false));
    holder.once('exit', () => resolve(false));
    createInterface({ input: holder.stdout! }).once('line', (line) => resolve(line.trim() === 'ready'));
  });
  if (!ready || holder.pid === undefined) {
    holder.kill('SIGKILL');
    return { netns: null, reason: `unshare -rn could not set up a namespace (${stderr.trim() || 'no output'})` };
  }
  const pid = holder.pid;
  const wrap = (argv: string[]) => ['nsenter', '-t', String(pid), '-n', ...argv];
  const dir = mkdtempSync(join(tmpdir(), 'netns-chromium-'));
  const wrapper = join(dir, 'chromium');
  writeFileSync(wrapper, `#!/bin/sh\nexec nsenter -t ${pid} -n ${chromiumPath} "$@"\n`);
  chmodSync(wrapper, 0o755);
  const probe = spawn(wrap(['true'])[0], wrap(['true']).slice(1), { stdio: 'ignore' });
  const entered = await new Promise<boolean>((resolve) => {
    probe.once('error', () => resolve(false));
    probe.once('exit', (code) => resolve(code === 0));
  });
  const close = async () => {
    rmSync(dir, { recursive: true, force: true });
    if (holder.exitCode !== null || holder.signalCode !== null) return;
    const exited = new Promise((resolve) => holder.once('exit', resolve));
    holder.kill('SIGKILL');
    await exited;
  };
  if (!entered) {
    await close();
    return { netns: null, reason: 'nsenter cannot enter the namespace (needs root or CAP_SYS_ADMIN)' };
  }
  return { netns: { wrap, chromiumPath: wrapper, close } };
}
