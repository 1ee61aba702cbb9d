// `npm start`: builds the PWA when its sources changed, makes sure the default test model exists,
// starts the companion and prints one `name: URL` line per service on stdout (notes go to stderr).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCompanion } from '../src/companion/companion.ts';
import type { Companion } from '../src/companion/companion.ts';
import { ConfigError, parseCompanionArgs } from '../src/companion/config.ts';
import type { CompanionConfig } from '../src/companion/config.ts';
import { appBuildState, buildApp } from './app-build.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

async function ensureBuilt(config: CompanionConfig): Promise<void> {
  if (!existsSync(join(root, 'index.html'))) {
    console.error('start: no index.html in the project yet; serving without an app build');
    return;
  }
  const stale = appBuildState(root, config.distDir);
  if (stale === 'fresh') return;
  console.error(stale === 'missing' ? 'start: building the app…' : 'start: app sources changed, rebuilding…');
  try {
    await buildApp(root, config.distDir);
  } catch (error) {
    throw new Error(`building the app failed (${(error as Error).message.split('\n')[0]}); fix it, or serve the last build with --skip-build`, { cause: error });
  }
}

async function ensureDefaultModel(config: CompanionConfig): Promise<void> {
  // Loaded only when needed: --skip-model starts without the model generator.
  const { ensureModel } = await import('../tools/models/registry.ts');
  const path = await ensureModel(config.model);
  console.error(`start: model ${config.model} at ${path}`);
}

async function main(): Promise<number> {
  let config: CompanionConfig;
  try {
    const parsed = parseCompanionArgs(process.argv.slice(2), process.env, root);
    if (parsed.kind === 'help') {
      console.log(parsed.text);
      return 0;
    }
    config = parsed.config;
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`start: ${error.message}`);
      return 2;
    }
    throw error;
  }

  let running: Companion | null = null;
  const stopped = onStopSignal(() => running);
  if (!config.skipBuild) await ensureBuilt(config);
  if (!config.skipModel) await ensureDefaultModel(config);

  running = await startCompanion(config);
  const { urls } = running;
  // Printed only now that every service listens (and the signal handlers are in place): tests wait for these lines.
  process.stdout.write(`app: ${urls.app}\nnostr: ${urls.nostr}\napi: ${urls.api}\nlibp2p: ${urls.libp2p}\n`);
  return stopped;
}

/** Resolves with the exit code once a SIGINT/SIGTERM has stopped the companion. */
function onStopSignal(current: () => Companion | null): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      // Still building or starting: nothing worth a graceful stop yet. A second signal: the user insists.
      const companion = current();
      if (companion === null || stopping) {
        console.error(`start: ${signal}, exiting`);
        process.exit(130);
      }
      stopping = true;
      console.error(`start: ${signal}, stopping…`);
      // A service that hangs on close must not keep Ctrl-C from working.
      const force = setTimeout(() => {
        console.error('start: services did not stop within 3 s; exiting anyway');
        resolve(1);
      }, 3000);
      force.unref();
      companion.stop().then(
        () => {
          clearTimeout(force);
          resolve(0);
        },
        (error: unknown) => {
          clearTimeout(force);
          console.error(`start: ${(error as Error).message}`);
          resolve(1);
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`start: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
