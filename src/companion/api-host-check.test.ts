// DNS rebinding and strangers: an API bound to loopback answers only requests whose Host is a
// loopback name (403 in OpenAI's error shape otherwise), and /health asks for the token when given one.
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiHandler, healthRoute, isLoopbackHostHeader } from './api-server.ts';

const servers: Server[] = [];
let loopback: number;
let guarded: number;

async function serve(loopbackOnly: boolean, token: string | null): Promise<number> {
  const server = createServer(
    createApiHandler({ routes: [healthRoute({ version: '1', startedAt: 0, services: () => ({}), token })], allowedOrigins: () => [], loopbackOnly }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return (server.address() as AddressInfo).port;
}

function get(
  port: number,
  headers: Record<string, string>,
): Promise<{ status: number; body: { error?: { code: string; type: string; message: string }; status?: string } }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/health', headers }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  loopback = await serve(true, null);
  guarded = await serve(false, 'secret-token');
});
afterAll(() => {
  for (const s of servers) s.close();
});

describe('API host check and /health token', () => {
  it('a loopback bind refuses a Host that is not a loopback name with a 403 in OpenAI shape', async () => {
    for (const host of [`127.0.0.1:${loopback}`, `localhost:${loopback}`, `[::1]:${loopback}`, 'localhost']) {
      expect((await get(loopback, { host })).status).toBe(200);
    }
    for (const host of [`evil.example:${loopback}`, `127.0.0.1.evil.example:${loopback}`, `192.168.1.5:${loopback}`, 'evil.example']) {
      const r = await get(loopback, { host });
      expect(r.status).toBe(403);
      expect(r.body.error).toMatchObject({ type: 'invalid_request_error', code: 'host_not_allowed' });
    }
  });

  it('/health asks for the token when it has one', async () => {
    const host = `127.0.0.1:${guarded}`;
    expect((await get(guarded, { host })).status).toBe(401);
    expect((await get(guarded, { host, authorization: 'Bearer wrong' })).status).toBe(401);
    const ok = await get(guarded, { host, authorization: 'Bearer secret-token' });
    expect(ok.status).toBe(200);
    expect(ok.body.status).toBe('ok');
  });

  it('reads loopback names from Host headers', () => {
    expect(isLoopbackHostHeader('127.0.0.2:80')).toBe(true);
    expect(isLoopbackHostHeader('LOCALHOST')).toBe(true);
    expect(isLoopbackHostHeader('localhost.evil.example')).toBe(false);
    expect(isLoopbackHostHeader('[::ffff:127.0.0.1]')).toBe(false);
    expect(isLoopbackHostHeader(undefined)).toBe(false);
  });
});
