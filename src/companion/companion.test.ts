import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCompanion } from './companion.ts';
import type { Companion } from './companion.ts';
import { defaultConfig } from './config.ts';

const dir = mkdtempSync(join(tmpdir(), 'companion-'));
let companion: Companion;

beforeAll(async () => {
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>app</title>');
  companion = await startCompanion(
    {
      ...defaultConfig(dir),
      distDir: dir,
      appPort: 0,
      nostrPort: 0,
      apiPort: 0,
      libp2pPort: 0,
      quicPort: 0,
      webTransportPort: 0,
      corsOrigins: ['http://localhost:5173'],
    },
    { persistKey: false },
  );
});

afterAll(async () => {
  await companion.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('startCompanion', () => {
  it('reports the real URL of every service', async () => {
    const { urls } = companion;
    for (const url of [urls.app, urls.nostr, urls.api]) expect(new URL(url).port).not.toMatch(/^0?$/);
    expect(urls.libp2p).toContain(`/p2p/${companion.libp2p.peerId.toString()}`);
    const health = (await (await fetch(`${urls.api}/health`)).json()) as { services: unknown };
    expect(health.services).toEqual(urls);
    expect(await (await fetch(urls.app)).text()).toContain('<title>app</title>');
  });

  it("lets the app's own origin (as 127.0.0.1 or localhost) and configured origins call the API, and nobody else", async () => {
    const port = new URL(companion.urls.app).port;
    for (const origin of [companion.urls.app, `http://localhost:${port}`, 'http://localhost:5173']) {
      const res = await fetch(`${companion.urls.api}/health`, { headers: { Origin: origin } });
      expect(res.status, origin).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe(origin);
      await res.text();
    }
    const other = await fetch(`${companion.urls.api}/health`, { headers: { Origin: `http://127.0.0.1:${Number(port) + 1}` } });
    expect(other.status).toBe(403);
    await other.text();
  });

  it('frees every port on stop, and a second stop is harmless', async () => {
    const second = await startCompanion(
      { ...defaultConfig(dir), distDir: dir, appPort: 0, nostrPort: 0, apiPort: 0, libp2pPort: 0, quicPort: 0, webTransportPort: 0 },
      { persistKey: false },
    );
    await second.stop();
    await second.stop();
    await expect(fetch(`${second.urls.api}/health`)).rejects.toThrow();
    await expect(fetch(second.urls.app)).rejects.toThrow();
    await expect(fetch(second.urls.nostr.replace('ws:', 'http:'))).rejects.toThrow();
  });
});
