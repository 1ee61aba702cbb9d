// Build and dev-server config of the PWA: index.html with hashed assets and widget.js, then the service worker
// (dist/sw.js, see tools/build/service-worker-plugin.ts), served with the headers that make the page
// crossOriginIsolated.
import { defineConfig } from 'vite';
import { serviceWorkerPlugin } from './tools/build/service-worker-plugin.ts';
import { widgetPlugin } from './tools/build/widget-plugin.ts';

// Cross-origin isolation (SharedArrayBuffer for WASM threads) needs these on every page and worker.
// CORP lets the page (COEP require-corp) load the files even when a proxy puts them on another origin.
export const isolationHeaders = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

export default defineConfig({
  server: { host: '127.0.0.1', port: 5173, headers: isolationHeaders },
  preview: { host: '127.0.0.1', port: 4173, headers: isolationHeaders },
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
