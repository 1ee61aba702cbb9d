// Imported first by Node tests that dial WebTransport through @libp2p/webtransport: its browser
// binding (vitest.config.ts) reads globalThis.WebTransport once, when it loads.
import { NodeWebTransport } from './webtransport-client.ts';

(globalThis as { WebTransport?: unknown }).WebTransport = NodeWebTransport;
