// Imported first by bench:mesh: Node peers there dial the WebTransport bridge with @libp2p/webtransport's
// own dialer, through its browser binding (globalThis.WebTransport, here the Node client of
// src/companion/testing) instead of its Node one, which only throws. vitest.config.ts does the same
// for the tests.
import { registerHooks } from 'node:module';
import { NodeWebTransport } from '../../src/companion/testing/webtransport-client.ts';

registerHooks({
  resolve(specifier, context, next) {
    if (specifier === './webtransport.js' && context.parentURL?.includes('/@libp2p/webtransport/dist/src/')) return next('./webtransport.browser.js', context);
    return next(specifier, context);
  },
});
(globalThis as { WebTransport?: unknown }).WebTransport = NodeWebTransport;
