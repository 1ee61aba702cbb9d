import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiHandler, healthRoute, sendJson } from './api-server.ts';

let server: Server;
let base: string;
const appOrigin = 'http://127.0.0.1:8080';
const services = { app: appOrigin, nostr: 'ws://127.0.0.1:7777', api: 'http://127.0.0.1:9337', libp2p: '/ip4/127.0.0.1/tcp/9090/ws/p2p/x' };
const startedAt = Date.now() - 5_000;
let echoed = 0;

beforeAll(async () => {
  server = createServer(
    createApiHandler({
      routes: [
        healthRoute({ version: '1.2.3', startedAt, services: () => services }),
        {
          method: 'POST',
          path: '/echo',
          handle: ({ res }) => {
            echoed++;
            sendJson(res, 200, { ok: true });
          },
        },
        {
          method: 'GET',
          path: '/boom',
          handle: () => {
            throw new Error('kaput');
          },
        },
      ],
      allowedOrigins: () => [appOrigin],
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function expectOpenAiError(body: unknown, code: string): void {
  expect(body).toEqual({ error: { message: expect.any(String), type: expect.any(String), param: null, code } });
}

describe('api server', () => {
  it('answers /health with status, version, uptime and the service URLs', async () => {
    const res = await fetch(`${base}/health`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.status).toBe('ok');
    expect(body.version).toBe('1.2.3');
    expect(body.uptime_s).toBeGreaterThanOrEqual(5);
    expect(body.uptime_s).toBeLessThan(60);
    expect(body.services).toEqual(services);
  });

  it('answers unknown routes with a 404 in the OpenAI error shape', async () => {
    const res = await fetch(`${base}/v1/nothing`);
    expect(res.status).toBe(404);
    expectOpenAiError(await res.json(), 'unknown_route');
  });

  it('answers a known path with the wrong method with 405 and Allow', async () => {
    const res = await fetch(`${base}/health`, { method: 'DELETE' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET');
    expectOpenAiError(await res.json(), 'method_not_allowed');
  });

  it('turns a throwing handler into a 500 error object', async () => {
    const res = await fetch(`${base}/boom`);
    expect(res.status).toBe(500);
    const body = (await res.json()) as { error: { message: string } };
    expect(body.error.message).toContain('kaput');
  });

  it("allows the app's own origin, with CORS headers and a preflight", async () => {
    const res = await fetch(`${base}/health`, { headers: { Origin: appOrigin } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(appOrigin);
    await res.text();
    const preflight = await fetch(`${base}/echo`, {
      method: 'OPTIONS',
      headers: { Origin: appOrigin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type, x-stainless-os' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(appOrigin);
    expect(preflight.headers.get('access-control-allow-methods')).toBe('POST');
    expect(preflight.headers.get('access-control-allow-headers')).toBe('content-type, x-stainless-os');
  });

  it('refuses other origins before the handler runs, and gives them no CORS headers', async () => {
    const before = echoed;
    const res = await fetch(`${base}/echo`, { method: 'POST', headers: { Origin: 'https://evil.example', 'Content-Type': 'text/plain' }, body: '{}' });
    expect(res.status).toBe(403);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expectOpenAiError(await res.json(), 'origin_not_allowed');
    expect(echoed).toBe(before);
    const preflight = await fetch(`${base}/echo`, { method: 'OPTIONS', headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' } });
    expect(preflight.status).toBe(403);
    await preflight.text();
  });

  it('serves clients that send no Origin (curl, SDKs)', async () => {
    const before = echoed;
    const res = await fetch(`${base}/echo`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(200);
    await res.json();
    expect(echoed).toBe(before + 1);
  });
});
