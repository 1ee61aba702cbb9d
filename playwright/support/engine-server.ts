// A Vite dev server for the engine-in-a-worker browser tests: the engine's TypeScript (the page, the
// inference worker and its WASM threads) and the generated test models under /models/ with Range
// support. `isolated` adds COOP/COEP, making the page crossOriginIsolated (SharedArrayBuffer, threads).
import { ISOLATION_HEADERS, startViteTestServer, type TestServer } from './vite-test-server.ts';

export type EngineTestServer = TestServer;

export function startEngineTestServer(isolated: boolean): Promise<EngineTestServer> {
  return startViteTestServer({ headers: isolated ? { ...ISOLATION_HEADERS } : {}, vite: { worker: { format: 'es' } } });
}
