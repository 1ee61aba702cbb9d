// Build and dev-server config of the PWA: index.html with hashed assets and widget.js, then the service worker
// (dist/sw.js, see tools/build/service-worker-plugin.ts), served with the headers that make the page
// crossOriginIsolated.
import { defineConfig } from 'vite';
import { serviceWorkerPlugin } from './tools/build/service-worker-plugin.ts';
import { widgetPlugin } from './tools/build/widget-plugin.ts';
import { ISOLATION_HEADERS } from './src/companion/static-server.ts';

// Cross-origin isolation (SharedArrayBuffer for WASM threads) needs ISOLATION_HEADERS on every page
// and worker: the dev and preview servers send the same headers as the companion's static server.

export default defineConfig({
  server: { host: '127.0.0.1', port: 5173, headers: ISOLATION_HEADERS },
  preview: { host: '127.0.0.1', port: 4173, headers: ISOLATION_HEADERS },
  worker: { format: 'es' },
  // widget.js (the embeddable chat) is emitted into the bundle, before sw.js lists what to precache.
  plugins: [widgetPlugin(), serviceWorkerPlugin()],
  build: {
    target: 'es2022',
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
  },
});
