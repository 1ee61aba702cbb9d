// The inference worker: hosts the engine off the page's main thread and serves EngineWorkerApi
// (src/protocol/engine-worker.ts) through comlink. Start it with src/engine/worker-client.ts in a page,
// or src/engine/worker-node.ts in Node (a worker_thread, for the companion and tests).
import { expose, transfer } from 'comlink';
import { InferenceHost } from './inference/host.ts';

const host = new InferenceHost({ transfer: (v) => transfer(v, [v.buffer as ArrayBuffer]) });

if (typeof process !== 'undefined' && process.versions?.node) {
  // Variables, so bundlers leave the Node-only modules out of the browser worker.
  const wt = 'node:worker_threads',
    adapter = 'comlink/dist/esm/node-adapter.mjs';
  const { parentPort } = (await import(/* @vite-ignore */ wt)) as typeof import('node:worker_threads');
  const { default: nodeEndpoint } = (await import(/* @vite-ignore */ adapter)) as { default: (p: unknown) => Parameters<typeof expose>[1] };
  expose(host, nodeEndpoint(parentPort));
} else {
  expose(host);
}
