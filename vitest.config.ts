import { defineConfig } from 'vitest/config';

export default defineConfig({
  plugins: [
    {
      // Node tests dial the WebTransport bridge with @libp2p/webtransport's own dialer: its browser
      // binding (globalThis.WebTransport, which those tests set to a Node client) instead of the
      // Node one, which only throws. Nothing else in the package changes.
      name: 'webtransport-browser-binding',
      enforce: 'pre',
      resolveId(source, importer) {
        if (source === './webtransport.js' && importer?.includes('/@libp2p/webtransport/dist/src/')) {
          return importer.replace(/[^/]+$/, 'webtransport.browser.js');
        }
        return null;
      },
    },
  ],
  test: {
    include: ['src/**/*.test.ts', 'workers/**/*.test.ts', 'tools/**/*.test.ts', 'scripts/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // Two cores: model generation and llama.cpp references are heavy, keep files from fighting.
    fileParallelism: true,
    maxWorkers: 2,
    server: { deps: { inline: ['@libp2p/webtransport'] } },
  },
});
