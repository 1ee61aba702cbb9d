// Headless native peers (`npm start -- --join <invite> --serve`) in one process: a companion with the
// tiny model, two native peers started from its invite link over QUIC. The companion plans the model
// across them; its HTTP API answers with both named in x-mesh-served-by and the text one machine gives;
// a peer killed mid-answer changes nothing; a peer started again on the same cache fetches no
// weights. A bad invite given to `npm start -- --join` exits non-zero with one clear line.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../../tools/models/registry.ts';
import { fileSource } from '../engine/file-source.ts';
import { openModel } from '../engine/model.ts';
import { budgetFor, until } from '../mesh/testing/test-mesh.ts';
import { startCompanion, type Companion } from './companion.ts';
import { defaultConfig } from './config.ts';
import { startNativePeer, type NativePeer } from './native-peer.ts';
import { loadServedModel } from './served-model.ts';

const MODEL = 'tiny-llama-q8_0';
const CHAT = { model: MODEL, messages: [{ role: 'user', content: 'Tell me a story about a fox.' }], max_tokens: 40, temperature: 0 };
const dir = mkdtempSync(join(tmpdir(), 'native-peer-'));
let companion: Companion;
let budget: number;
let solo: string;
const peers: NativePeer[] = [];
const logs = new Map<number, string[]>();

async function startPeer(n: number): Promise<NativePeer> {
  const lines: string[] = [];
  logs.set(n, lines);
  const peer = await startNativePeer({
    join: companion.mesh.link,
    host: '127.0.0.1',
    quicPort: 0,
    budgetBytes: budget,
    cacheDir: join(dir, `peer-${n}`),
    backend: 'cpu',
    threads: 2,
    log: (line) => lines.push(line),
  });
  peers.push(peer);
  return peer;
}

async function chat(stream: boolean): Promise<Response> {
  return fetch(`${companion.urls.api}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...CHAT, stream }),
  });
}

async function streamedText(response: Response, onChunk: (n: number) => void = () => {}): Promise<string> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  let buffered = '';
  let chunks = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text;
    buffered += value;
    const events = buffered.split('\n\n');
    buffered = events.pop()!;
    for (const event of events) {
      if (!event.startsWith('data: ') || event === 'data: [DONE]') continue;
      const chunk = JSON.parse(event.slice(6)) as { error?: unknown; choices: { delta: { content?: string } }[] };
      expect(chunk.error).toBeUndefined();
      text += chunk.choices[0]?.delta.content ?? '';
      onChunk(++chunks);
    }
  }
}

/** The companion's ready plan over exactly these peers, as its answers name them. */
async function servedBy(ids: readonly string[]): Promise<string> {
  return until(
    `a plan over ${ids.length} native peers`,
    () => {
      const plan = peers[0]?.node.snapshot().plan;
      const stages = plan?.stages ?? [];
      return stages.length === ids.length && stages.every((s) => s.ready && ids.includes(s.peerId)) ? stages.map((s) => s.peerId).join(',') : undefined;
    },
    60_000,
    50,
  );
}

beforeAll(async () => {
  const path = await ensureModel(MODEL);
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>app</title>');
  const served = await loadServedModel(path, { id: MODEL, backend: 'cpu' });
  // One layer's worth each: the two-layer model needs both peers.
  const source = await fileSource(path);
  budget = budgetFor(await openModel(source), 1);
  await source.close();
  companion = await startCompanion(
    { ...defaultConfig(dir), distDir: dir, modelsDir: dirname(path), appPort: 0, nostrPort: 0, apiPort: 0, libp2pPort: 0, quicPort: 0, webTransportPort: 0 },
    { persistKey: false, models: [served] },
  );
  // With no server peer yet, the companion answers alone: what one machine gives.
  const res = await chat(false);
  expect(res.headers.get('x-mesh-served-by')).toBe(`companion;layers=0-2`);
  solo = ((await res.json()) as { choices: { message: { content: string } }[] }).choices[0].message.content;
  expect(solo.length).toBeGreaterThan(20);
}, 120_000);

afterAll(async () => {
  for (const peer of peers) await peer.stop().catch(() => {});
  await companion?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('headless native peers', () => {
  it('join over QUIC, take a layer each, and the companion answers through both with the text one machine gives', async () => {
    const [a, b] = [await startPeer(1), await startPeer(2)];
    expect(a.meshId).toBe(companion.mesh.invite.meshId);
    expect(a.modelsUrl).toBe(`${companion.urls.app}/models/`);
    await servedBy([a.peerId, b.peerId]);
    // QUIC to the head and between the two (chained stages forward on the direct link).
    for (const p of [a, b]) expect(companion.mesh.node.linksTo(p.peerId)).toEqual(['quic']);
    expect(a.node.snapshot().peers.find((p) => p.peerId === b.peerId)?.links).toContain('quic');
    const res = await chat(true);
    expect(res.status).toBe(200);
    const header = res.headers.get('x-mesh-served-by') ?? '';
    expect(header).toContain(a.peerId);
    expect(header).toContain(b.peerId);
    expect(header).toMatch(/;layers=0-1, .*;layers=1-2$/);
    expect(await streamedText(res)).toBe(solo);
    for (const n of [1, 2])
      expect(logs.get(n)!.some((l) => /^downloaded \d+ bytes of http:\/\/127\.0\.0\.1:\d+\/models\/tiny-llama-q8_0\.gguf/.test(l))).toBe(true);
    expect(logs.get(1)!.some((l) => /^pipeline: loaded tiny-llama-q8_0 layers/.test(l))).toBe(true);
    expect(logs.get(1)).toContain('stages run on the WASM kernels, 2 threads');
    expect(logs.get(1)!.some((l) => /^pipeline: plan \d+ for tiny-llama-q8_0/.test(l))).toBe(true);
  }, 120_000);

  it('gives the same answer when a peer is killed mid-answer, and a peer started again on its cache downloads nothing', async () => {
    const [a, b] = peers;
    const res = await chat(true);
    expect(res.status).toBe(200);
    let killed: Promise<void> | undefined;
    const text = await streamedText(res, (n) => {
      if (n === 8) killed = b.stop();
    });
    await killed;
    expect(killed).toBeDefined();
    expect(text).toBe(solo);
    // The same cache folder as the killed peer: its weights are on disk already.
    const again = await startPeer(2);
    await servedBy([a.peerId, again.peerId]);
    expect(logs.get(2)!.filter((l) => /^downloaded/.test(l))).toEqual([]);
    expect(logs.get(2)!.some((l) => /^using the cached http:\/\/127\.0\.0\.1:\d+\/models\/tiny-llama-q8_0\.gguf/.test(l))).toBe(true);
    const after = await chat(false);
    expect(after.headers.get('x-mesh-served-by')).toContain(again.peerId);
    expect(((await after.json()) as { choices: { message: { content: string } }[] }).choices[0].message.content).toBe(solo);
  }, 120_000);
});

describe('npm start -- --join', () => {
  const script = fileURLToPath(new URL('../../scripts/start.ts', import.meta.url));
  const run = (args: string[]) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.once('exit', (code) => resolve({ code, stderr }));
    });

  it('refuses a damaged invite, a link without one and a bare token with one clear line each, no stack trace, exit status != 0', async () => {
    const link = companion.mesh.link;
    // One letter changed in the middle: still base64url of the right length, so only the checksum can tell.
    const at = link.indexOf('#join=') + 30;
    const damaged = `${link.slice(0, at)}${link[at] === 'A' ? 'B' : 'A'}${link.slice(at + 1)}`;
    const cases = [
      { join: damaged, says: /--join: the invite is damaged or cut short/ },
      { join: `${companion.urls.app}/`, says: /--join: the link .* has no #join=… part/ },
      { join: companion.mesh.token, says: /--join: give --join the whole invite link/ },
    ];
    for (const c of cases) {
      const { code, stderr } = await run(['--join', c.join, '--serve', '--cache-dir', join(dir, 'bad')]);
      expect(code).not.toBe(0);
      expect(code).not.toBeNull();
      expect(stderr).toMatch(c.says);
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr).not.toMatch(/\n\s+at /);
    }
  }, 60_000);
});
