// `npm start` as a user (and the Playwright specs) run it: a child process on free ports.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { DEFAULT_MODEL } from '../src/companion/config.ts';
import { ensureModel } from '../tools/models/registry.ts';

const script = fileURLToPath(new URL('./start.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'start-'));
const dist = join(dir, 'dist');
mkdirSync(dist);
writeFileSync(join(dist, 'index.html'), '<!doctype html><title>mesh</title>');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ephemeral = [
  '--host',
  '127.0.0.1',
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
];
const quiet = ['--skip-build', '--skip-model', '--dist', dist, '--cache-dir', join(dir, 'cache')];

function start(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [script, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A port nothing listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function exit(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null) return Promise.resolve({ code: child.exitCode, signal: null });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

function collect(stream: NodeJS.ReadableStream | null): () => string {
  let text = '';
  stream?.on('data', (chunk) => (text += chunk));
  return () => text;
}

/** Resolves with the service lines once all four are printed. */
function serviceLines(child: ChildProcess, stdout: () => string, stderr: () => string): Promise<Record<string, string>> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const lines = stdout()
        .split('\n')
        .filter((l) => l !== '');
      if (!lines.some((l) => l.startsWith('webtransport: '))) return; // the last line printed
      child.stdout?.off('data', check);
      resolve(Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)])));
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => reject(new Error(`start.ts exited (${code}) before printing its URLs:\n${stdout()}\n${stderr()}`)));
  });
}

describe('scripts/start.ts', () => {
  it('prints one line per service with real ports, serves them, and exits 0 on SIGINT', async () => {
    const child = start([...ephemeral, ...quiet]);
    const stdout = collect(child.stdout);
    const stderr = collect(child.stderr);
    const urls = await serviceLines(child, stdout, stderr);

    expect(Object.keys(urls)).toEqual(['invite', 'app', 'nostr', 'api', 'libp2p', 'quic', 'webtransport']);
    expect(
      stdout()
        .split('\n')
        .filter((l) => l !== ''),
    ).toHaveLength(7);
    const { invite, ...services } = urls;
    expect(invite.startsWith(`${urls.app}/#join=`)).toBe(true);
    expect(urls.app).toMatch(/^http:\/\/127\.0\.0\.1:[1-9]\d*$/);
    expect(urls.nostr).toMatch(/^ws:\/\/127\.0\.0\.1:[1-9]\d*$/);
    expect(urls.api).toMatch(/^http:\/\/127\.0\.0\.1:[1-9]\d*$/);
    expect(urls.libp2p).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/[1-9]\d*\/ws\/p2p\/12D3Koo\w+$/);
    expect(urls.quic).toMatch(/^\/ip4\/127\.0\.0\.1\/udp\/[1-9]\d*\/quic-v1\/p2p\/12D3Koo\w+$/);
    expect(urls.webtransport).toMatch(/^\/ip4\/127\.0\.0\.1\/udp\/[1-9]\d*\/quic-v1\/webtransport\/certhash\/u[\w-]+\/certhash\/u[\w-]+\/p2p\/12D3Koo\w+$/);

    const health = await fetch(`${urls.api}/health`);
    expect(health.status).toBe(200);
    const body = (await health.json()) as { status: string; services: Record<string, string> };
    expect(body.status).toBe('ok');
    expect(body.services).toEqual(services);

    const page = await fetch(`${urls.app}/`);
    expect(page.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    expect(await page.text()).toContain('<title>mesh</title>');

    const ws = new WebSocket(urls.nostr);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));

    const stoppedAt = Date.now();
    child.kill('SIGINT');
    const result = await exit(child);
    expect(result, stderr()).toEqual({ code: 0, signal: null });
    const stopMs = Date.now() - stoppedAt;
    expect(stopMs).toBeLessThan(3000);
    await expect(fetch(`${urls.api}/health`)).rejects.toThrow();
    await expect(fetch(`${urls.app}/`)).rejects.toThrow();
  });

  it('--static-only serves the app, /models/ and the relay, prints only those two lines, and runs no API, libp2p node or /companion.json', async () => {
    const models = join(dir, 'models');
    mkdirSync(models, { recursive: true });
    writeFileSync(join(models, 'm.gguf'), Buffer.from('GGUF test bytes'));
    // The API's and libp2p's ports, free now: nothing may listen on them once it runs.
    const [apiPort, libp2pPort] = [await freePort(), await freePort()];
    const child = start([...ephemeral, ...quiet, '--static-only', '--models-dir', models, '--api-port', String(apiPort), '--libp2p-port', String(libp2pPort)]);
    const stdout = collect(child.stdout);
    const stderr = collect(child.stderr);
    await new Promise<void>((resolve, reject) => {
      const check = () => stdout().includes('nostr: ') && stdout().endsWith('\n') && resolve();
      child.stdout?.on('data', check);
      child.once('exit', (code) => reject(new Error(`start.ts exited (${code}):\n${stdout()}\n${stderr()}`)));
    });
    const lines = stdout()
      .split('\n')
      .filter((l) => l !== '');
    expect(lines.map((l) => l.slice(0, l.indexOf(':')))).toEqual(['app', 'nostr']);
    const app = lines[0].slice(5);
    const page = await fetch(`${app}/`);
    expect(page.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    expect(page.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    const range = await fetch(`${app}/models/m.gguf`, { headers: { range: 'bytes=0-3' } });
    expect(range.status).toBe(206);
    expect(await range.text()).toBe('GGUF');
    // No companion here: its info path falls through to the app (the single-page fallback), never JSON.
    const info = await fetch(`${app}/companion.json`);
    expect(info.headers.get('content-type') ?? '').not.toMatch(/json/);
    const ws = new WebSocket(lines[1].slice(7));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.close();
    await expect(fetch(`http://127.0.0.1:${apiPort}/health`)).rejects.toThrow();
    await expect(fetch(`http://127.0.0.1:${libp2pPort}/`)).rejects.toThrow();
    child.kill('SIGINT');
    expect((await exit(child)).code, stderr()).toBe(0);
  });

  it('stops on SIGTERM too, and reads ports from the environment', async () => {
    const child = start(quiet, { MESH_APP_PORT: '0', MESH_NOSTR_PORT: '0', MESH_API_PORT: '0', MESH_LIBP2P_PORT: '0' });
    const stdout = collect(child.stdout);
    const stderr = collect(child.stderr);
    const urls = await serviceLines(child, stdout, stderr);
    expect(urls.api).not.toMatch(/:9337$/);
    child.kill('SIGTERM');
    expect(await exit(child)).toEqual({ code: 0, signal: null });
  });

  it('serves the default model (the trained one) on /v1 right after start, with no tab open', async () => {
    const child = start([...ephemeral, '--skip-build', '--dist', dist, '--cache-dir', join(dir, 'cache')]);
    const stdout = collect(child.stdout);
    const stderr = collect(child.stderr);
    try {
      const urls = await serviceLines(child, stdout, stderr);
      expect(stdout()).not.toMatch(/^token:/m); // loopback: no token
      const res = await fetch(`${urls.api}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: DEFAULT_MODEL, messages: [{ role: 'user', content: 'In the beginning God created' }], max_tokens: 12, temperature: 0 }),
      });
      expect(res.status, stderr()).toBe(200);
      const body = (await res.json()) as { choices: { message: { content: string } }[]; usage: { completion_tokens: number } };
      expect(body.usage.completion_tokens).toBeGreaterThan(0);
      // trained weights: the reply is English words in the style of its text, not random tokens
      expect(body.choices[0].message.content).toMatch(/\b(the|and|of|LORD|God|heaven|earth)\b/);
      const health = (await (await fetch(`${urls.api}/health`)).json()) as { models: { id: string }[] };
      expect(health.models.map((m) => m.id)).toEqual([DEFAULT_MODEL]);
      expect(stderr()).toMatch(new RegExp(`serving ${DEFAULT_MODEL} .* kernels \\(\\d+ ms\\)`));
    } finally {
      child.kill('SIGINT');
      await exit(child);
    }
  });

  it('serves every model of MESH_MODEL (comma-separated), each planned on the mesh, and refuses two models of one name', async () => {
    const child = start([...ephemeral, '--skip-build', '--dist', dist, '--cache-dir', join(dir, 'cache')], { MESH_MODEL: 'tiny-llama-q8_0,tiny-qwen3-q8_0' });
    const stdout = collect(child.stdout);
    const stderr = collect(child.stderr);
    try {
      const urls = await serviceLines(child, stdout, stderr);
      const health = (await (await fetch(`${urls.api}/health`)).json()) as { models: { id: string }[] };
      expect(health.models.map((m) => m.id)).toEqual(['tiny-llama-q8_0', 'tiny-qwen3-q8_0']);
      // No server peer yet: each model's mesh is the companion's own layers.
      const list = (await (await fetch(`${urls.api}/v1/models`)).json()) as { data: { id: string; mesh: unknown }[] };
      expect(list.data.map((m) => [m.id, m.mesh])).toEqual([
        ['tiny-llama-q8_0', [{ peer: 'companion', layers: [0, 2] }]],
        ['tiny-qwen3-q8_0', [{ peer: 'companion', layers: [0, 2] }]],
      ]);
      expect(stderr()).toMatch(/the mesh plans tiny-qwen3-q8_0 across its server peers/);
    } finally {
      child.kill('SIGINT');
      await exit(child);
    }
    const same = start([
      ...ephemeral,
      ...quiet.filter((a) => a !== '--skip-model'),
      '--model',
      'tiny-llama-q8_0',
      '--model',
      await ensureModel('tiny-llama-q8_0'),
    ]);
    const said = collect(same.stderr);
    expect(await exit(same)).toEqual({ code: 2, signal: null });
    expect(said()).toMatch(/two --model entries are both named tiny-llama-q8_0/);
  });

  it('prints a generated token on a non-loopback bind and the API requires it', async () => {
    const child = start([
      '--host',
      '0.0.0.0',
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
      ...quiet,
    ]);
    const stdout = collect(child.stdout);
    const stderr = collect(child.stderr);
    try {
      const urls = await serviceLines(child, stdout, stderr);
      const token = urls.token;
      expect(token).toMatch(/^mesh-\S{40,}$/);
      const api = `http://127.0.0.1:${new URL(urls.api).port}`;
      const refused = await fetch(`${api}/v1/models`);
      expect(refused.status).toBe(401);
      expect(((await refused.json()) as { error: { type: string } }).error.type).toBe('authentication_error');
      const allowed = await fetch(`${api}/v1/models`, { headers: { authorization: `Bearer ${token}` } });
      expect(allowed.status).toBe(200);
      expect(await allowed.json()).toEqual({ object: 'list', data: [] }); // --skip-model: nothing served yet
    } finally {
      child.kill('SIGINT');
      await exit(child);
    }
  });

  it('refuses a bad flag with a clear message and exit status 2', async () => {
    const child = start(['--api-port', 'seventy']);
    const stderr = collect(child.stderr);
    expect((await exit(child)).code).toBe(2);
    expect(stderr()).toMatch(/--api-port must be a port number/);
  });

  it('reports a port in use by name', async () => {
    const first = start([...ephemeral, ...quiet]);
    const out = collect(first.stdout);
    const urls = await serviceLines(first, out, collect(first.stderr));
    const taken = new URL(urls.api).port;
    const second = start([...ephemeral, '--api-port', taken, ...quiet]);
    const stderr = collect(second.stderr);
    expect((await exit(second)).code).toBe(1);
    expect(stderr()).toMatch(new RegExp(`api: port ${taken} is already in use.*--api-port`));
    first.kill('SIGINT');
    expect((await exit(first)).code).toBe(0);
  });
});
