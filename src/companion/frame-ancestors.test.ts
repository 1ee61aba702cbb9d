// The app cannot be framed by other sites: every page carries `frame-ancestors 'self'`, and only the
// widget's frame (?embed=widget) names the --embed-origin sites as well.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStaticHandler, frameAncestors } from './static-server.ts';

const dir = mkdtempSync(join(tmpdir(), 'frame-ancestors-'));
const servers: Server[] = [];

async function serve(embedOrigins?: string[]): Promise<string> {
  const server = createServer(createStaticHandler([{ prefix: '/', dir, spa: true }], embedOrigins));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(() => writeFileSync(join(dir, 'index.html'), '<!doctype html><title>shell</title>'));
afterAll(() => {
  for (const s of servers) s.close();
});

describe('frame-ancestors', () => {
  it('frames the app only from itself; the widget frame also from the --embed-origin sites', async () => {
    const base = await serve(['https://shop.example', 'https://blog.example']);
    const csp = async (path: string) => (await fetch(`${base}${path}`)).headers.get('content-security-policy');
    expect(await csp('/')).toBe("frame-ancestors 'self'");
    expect(await csp('/dashboard')).toBe("frame-ancestors 'self'");
    expect(await csp('/?embed=other')).toBe("frame-ancestors 'self'");
    expect(await csp('/?embed=widget')).toBe("frame-ancestors 'self' https://shop.example https://blog.example");
  });

  it('without --embed-origin the widget frame is the app\'s own too; "*" opens it to any site', async () => {
    expect((await fetch(`${await serve()}/?embed=widget`)).headers.get('content-security-policy')).toBe("frame-ancestors 'self'");
    expect(frameAncestors('/?x=1&embed=widget', ['*'])).toBe('frame-ancestors *');
  });
});
