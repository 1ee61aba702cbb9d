// The page side of the service-worker bridge: a page with no service worker (still registering, or
// refused behind an untrusted certificate) must not wait on one: announcing ends after a second.
import { describe, expect, it } from 'vitest';
import { serveApiToWorker, type WorkerContainer } from './api-bridge.ts';
import type { LocalApi } from './page-api.ts';

const local: LocalApi = { served: async () => [], serve: async () => new Response(null, { status: 503 }) };

describe('serveApiToWorker', () => {
  it('announces within about a second when no service worker ever becomes ready', async () => {
    const container: WorkerContainer = {
      ready: new Promise(() => {}), // navigator.serviceWorker.ready with no registration: never resolves
      controller: null,
      addEventListener: () => {},
      removeEventListener: () => {},
    };
    const bridge = serveApiToWorker(local, container);
    const started = Date.now();
    await bridge.announce();
    expect(Date.now() - started).toBeLessThan(2000);
    bridge.stop();
  });
});
