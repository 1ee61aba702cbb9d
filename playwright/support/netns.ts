// Private network namespaces for browser tests. Chromium gathers WebRTC ICE candidates only on the
// interface holding the default route, never on loopback, so a namespace gets a veth pair with a
// test address (198.18.0.x, a benchmarking range) and a default route on it. Nothing leaves: both
// ends of the pair are the test's own. startNetns() keeps both ends in one namespace (stack and
// browsers side by side); startNetnsPair() puts one end in a second namespace, a "second device"
// that reaches the first only over the pair. Processes run inside through nsenter; Playwright drives
// Chromium over a pipe, which does not care about namespaces.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromiumPath } from './browser.ts';

export const NETNS_ADDRESS = '198.18.0.1';
/** The second namespace's address in startNetnsPair(). */
export const NETNS_PEER_ADDRESS = '198.18.0.2';

export interface Netns {
  /** The command line that runs `argv` inside the namespace. */
  wrap(argv: string[]): string[];
  /** An executable that starts Chromium inside the namespace (for launch's executablePath). */
  readonly chromiumPath: string;
  close(): Promise<void>;
}

type Made<T> = { netns: T } | { netns: null; reason: string };

// No IPv6 link-local address either: one appearing a moment after Chromium starts reads to it as a
// network change, which fails a navigation in flight with ERR_NETWORK_CHANGED.
const veth = (address: string, dev: string) => [
  `ip link set ${dev} addrgenmode none`,
  `ip addr add ${address}/24 dev ${dev}`,
  `ip link set ${dev} up`,
  `ip route add default dev ${dev}`,
];
const HOLD = ['echo ready', 'exec sleep 100000'];
const ONE = ['ip link set lo up', 'ip link add veth0 type veth peer name veth1', ...veth(NETNS_ADDRESS, 'veth0'), 'ip link set veth1 up', ...HOLD];

/** A namespace held by a sleeping process, or null (with the reason) where unshare/nsenter are unavailable. */
export async function startNetns(): Promise<Made<Netns>> {
  return hold(ONE);
}

/**
 * Two namespaces joined by a veth pair: `host` (198.18.0.1) and `device` (198.18.0.2), each with its
 * default route on its end, as two machines on one LAN.
 */
export async function startNetnsPair(): Promise<Made<{ host: Netns; device: Netns }>> {
  const host = await hold(['ip link set lo up', 'ip link add veth0 type veth peer name veth1', ...veth(NETNS_ADDRESS, 'veth0'), ...HOLD]);
  if (!host.netns) return host;
  const device = await hold(['ip link set lo up', ...HOLD]);
  if (!device.netns) {
    await host.netns.close();
    return device;
  }
  const both = { host: host.netns, device: device.netns };
  const moved = await run(host.netns.wrap(['ip', 'link', 'set', 'veth1', 'netns', String(pidOf(device.netns))]));
  const set = moved && (await run(device.netns.wrap(['sh', '-c', veth(NETNS_PEER_ADDRESS, 'veth1').join(' && ')])));
  if (!set) {
    await Promise.all([host.netns.close(), device.netns.close()]);
    return { netns: null, reason: 'could not move the veth end into the second namespace' };
  }
  return { netns: both };
}

/** The third namespace's address in startNetnsTrio(). */
export const NETNS_THIRD_ADDRESS = '198.18.0.3';

/**
 * Three namespaces on one switched segment: `host` (198.18.0.1, a bridge with a veth to each other),
 * `second` (198.18.0.2) and `third` (198.18.0.3), each with its default route there, as three
 * machines on one LAN.
 */
export async function startNetnsTrio(): Promise<Made<{ host: Netns; second: Netns; third: Netns }>> {
  const bridge = [
    'ip link set lo up',
    'ip link add br0 type bridge',
    ...veth(NETNS_ADDRESS, 'br0'),
    'ip link add veth0 type veth peer name veth1',
    'ip link add veth2 type veth peer name veth3',
    'ip link set veth0 master br0',
    'ip link set veth2 master br0',
    'ip link set veth0 up',
    'ip link set veth2 up',
  ];
  const host = await hold([...bridge, ...HOLD]);
  if (!host.netns) return host;
  const others: Netns[] = [];
  for (const [end, address] of [
    ['veth1', NETNS_PEER_ADDRESS],
    ['veth3', NETNS_THIRD_ADDRESS],
  ] as const) {
    const made = await hold(['ip link set lo up', ...HOLD]);
    const ok =
      made.netns &&
      (await run(host.netns.wrap(['ip', 'link', 'set', end, 'netns', String(pidOf(made.netns))]))) &&
      (await run(made.netns.wrap(['sh', '-c', veth(address, end).join(' && ')])));
    if (made.netns) others.push(made.netns);
    if (!ok) {
      await Promise.all([host.netns, ...others].map((n) => n.close()));
      return { netns: null, reason: made.netns ? `could not move ${end} into its namespace` : made.reason };
    }
  }
  return { netns: { host: host.netns, second: others[0], third: others[1] } };
}

const pids = new WeakMap<Netns, number>();
const pidOf = (netns: Netns) => pids.get(netns)!;

async function hold(setup: string[]): Promise<Made<Netns>> {
  let holder: ChildProcess;
  try {
    holder = spawn('unshare', ['-rn', 'sh', '-c', setup.join(' && ')], { stdio: ['ignore', 'pipe', 'pipe'] });
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
  const close = async () => {
    rmSync(dir, { recursive: true, force: true });
    if (holder.exitCode !== null || holder.signalCode !== null) return;
    const exited = new Promise((resolve) => holder.once('exit', resolve));
    holder.kill('SIGKILL');
    await exited;
  };
  if (!(await run(wrap(['true'])))) {
    await close();
    return { netns: null, reason: 'nsenter cannot enter the namespace (needs root or CAP_SYS_ADMIN)' };
  }
  const netns = { wrap, chromiumPath: wrapper, close };
  pids.set(netns, pid);
  return { netns };
}

function run(argv: string[]): Promise<boolean> {
  const child = spawn(argv[0], argv.slice(1), { stdio: 'ignore' });
  return new Promise((resolve) => {
    child.once('error', () => resolve(false));
    child.once('exit', (code) => resolve(code === 0));
  });
}
