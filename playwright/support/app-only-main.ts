// startAppOnly as a process, for a network namespace of its own (the spec's process cannot serve
// inside one): prints `base: <url>` once listening, and serves until it is killed.
import { startAppOnly } from './app-only-server.ts';

const server = await startAppOnly(process.argv.slice(2));
process.stdout.write(`base: ${server.base}\n`);
process.once('SIGTERM', () => {
  server.close().finally(() => process.exit(0));
});
