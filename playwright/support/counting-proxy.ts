// A reverse proxy in front of the app server that records every request path it forwards, so a spec
// can count what the browser (its service worker included) really fetched from the server.
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CountingProxy {
  /** The proxy's origin, e.g. http://127.0.0.1:41234 (open the app here). */
  origin: string;
  /** Paths (with query) forwarded so far, in order. */
  readonly requests: string[];
  /** Where to forward to; set once the server behind is up. */
  target: string;
  close(): Promise<void>;
}

export async function startCountingProxy(): Promise<CountingProxy> {
  const requests: string[] = [];
  const proxy: CountingProxy = { origin: '', requests, target: '', close: async () => {} };
  const server = createServer((req, res) => {
    requests.push(req.url ?? '/');
    const target = new URL(req.url ?? '/', proxy.target);
    const upstream = httpRequest(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', (error) => {
      res.writeHead(502).end(String(error));
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return proxy;
}
