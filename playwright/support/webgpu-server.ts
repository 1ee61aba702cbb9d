// A Vite dev server for the WebGPU browser tests: serves the engine's TypeScript modules to a blank
// test page with the app's COOP/COEP headers, and the generated test models under /models/ with
// HEAD and Range support (the engine reads URL models with Range requests, as from a model hub).
import { startViteTestServer, type TestServer } from './vite-test-server.ts';

export type { TestServer };

export function startWebGpuTestServer(): Promise<TestServer> {
  return startViteTestServer({
    headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' },
  });
}
