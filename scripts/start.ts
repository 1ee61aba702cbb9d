// `npm start`: builds the PWA when its sources changed, loads the model the API serves (generating
// the default test model on first use), starts the companion and prints one `name: URL` line per
// service on stdout (plus `token: …` when it made up an API token); notes go to stderr.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCompanion } from '../src/companion/companion.ts';
import { startStaticHost } from '../src/companion/static-host.ts';
import { ConfigError, DEFAULT_MODEL, parseCompanionArgs } from '../src/companion/config.ts';
import type { CompanionConfig } from '../src/companion/config.ts';
import { isWildcardHost } from '../src/companion/lan-address.ts';
import { progressReporter } from '../src/companion/download-progress.ts';
import { downloadModel, ModelDownloadError } from '../src/companion/model-download.ts';
import { loadServedModel, type ServedModel } from '../src/companion/served-model.ts';
import { Engine } from '../src/engine/engine.ts';
import type { SpeculativeConfig } from '../src/provider/speculative-mode.ts';
import { NativePeerError, startNativePeer } from '../src/companion/native-peer.ts';
import { InviteError } from '../src/mesh/invite.ts';
import { appBuildState, buildApp } from './app-build.ts';
import { guardProcess } from '../src/companion/process-guard.ts';

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
    throw new Error(`building the app failed (${(error as Error).message.split('\n')[0]}); fix it, or serve the last build with --skip-build`, {
      cause: error,
    });
  }
}

/**
 * The file of --model: a test model's name (generated on first use), a .gguf path, or a URL, which
 * is downloaded once into the models folder (the app publishes it under /models/, so the mesh can
 * split it across tabs as it does a local model).
 */
async function modelFile(config: CompanionConfig, input: string): Promise<{ path: string; id?: string; source?: string }> {
  if (/^https?:\/\//i.test(input)) {
    const got = await downloadModel(input, {
      dir: config.modelsDir,
      onProgress: progressReporter(process.stderr, { prefix: 'start: ' }),
      log: (line) => console.error(`start: ${line}`),
    });
    return { path: got.path, source: input };
  }
  if (/\.gguf$/i.test(input)) return { path: input };
  // Loaded only when needed: --skip-model starts without the model generator.
  const { ensureModel, modelNames } = await import('../tools/models/registry.ts');
  if (!modelNames().includes(input)) {
    throw new ConfigError(
      `${config.models.includes(input) ? '--model' : '--draft'} ${input} is not a test model (known: ${modelNames().join(', ')}); give one of those, a .gguf path or an http(s) URL, e.g. --model ${DEFAULT_MODEL}`,
    );
  }
  return { path: await ensureModel(input), id: input };
}

/** --draft: how the served model decodes speculatively (a draft model is loaded on the --backend kernels). */
async function loadDraft(config: CompanionConfig): Promise<SpeculativeConfig | undefined> {
  if (config.draft === '') return undefined;
  if (config.draft === 'ngram') {
    console.error('start: speculative decoding with the n-gram (prompt lookup) drafter');
    return { drafter: 'ngram' };
  }
  const { path } = await modelFile(config, config.draft);
  const draftModel = await Engine.load(path, { backend: config.backend });
  console.error(`start: speculative decoding with the draft model ${config.draft} (${draftModel.config.nLayer} layers, ${config.backend})`);
  return { drafter: 'model', draftModel };
}

/** A model the API serves: its file (made or downloaded when missing), loaded on the --backend kernels. */
async function loadModel(config: CompanionConfig, model: string): Promise<ServedModel> {
  const started = Date.now();
  const { path: input, id, source } = await modelFile(config, model);
  const served = await loadServedModel(input, { id, backend: config.backend, source, log: (line) => console.error(`start: ${line}`) }).catch(
    (error: unknown) => {
      throw new Error(`cannot load the model ${model} (${(error as Error).message}); pick another with --model, or start without one with --skip-model`, {
        cause: error,
      });
    },
  );
  console.error(`start: serving ${served.info.id} from ${input} on the ${served.info.backend} kernels (${Date.now() - started} ms)`);
  return served;
}

/** Every --model, one after the other (each is a whole engine); two files of one name would be one model to clients. */
async function loadModels(config: CompanionConfig): Promise<ServedModel[]> {
  const models: ServedModel[] = [];
  try {
    for (const model of config.models) {
      const served = await loadModel(config, model);
      models.push(served);
      if (models.some((m) => m !== served && m.info.id === served.info.id))
        throw new ConfigError(`two --model entries are both named ${served.info.id}; clients tell models apart by name: rename one file`);
    }
    return models;
  } catch (error) {
    for (const m of models) await m.close().catch(() => {});
    throw error;
  }
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

  // One peer's bad message must not end the process and every answer in flight with it.
  guardProcess((line) => console.error(`start: ${line}`));
  let running: { stop(): Promise<void> } | null = null;
  const stopped = onStopSignal(() => running);
  if (config.join) {
    // A headless native peer: no app to build, no model to load up front (the head's plan says which).
    try {
      const peer = await startNativePeer({
        join: config.join,
        host: config.host,
        quicPort: config.quicPort,
        webTransportPort: config.webTransportPort,
        budgetBytes: config.budgetBytes,
        cacheDir: join(config.cacheDir, 'peer-models'),
        backend: config.backend,
        download: { onProgress: progressReporter(process.stderr, { prefix: 'peer: ' }) },
        log: (line) => console.error(`peer: ${line}`),
      });
      running = peer;
      process.stdout.write(`peer: ${peer.peerId} joined ${peer.meshId}\n`);
      return stopped;
    } catch (error) {
      if (!(error instanceof InviteError || error instanceof NativePeerError || (error as { code?: string }).code === 'port_in_use')) throw error;
      console.error(`start: --join: ${(error as Error).message}`);
      return error instanceof InviteError ? 2 : 1;
    }
  }
  if (!config.skipBuild) await ensureBuilt(config);
  let models: ServedModel[] = [];
  try {
    // --static-only serves the model's file under /models/ (made or downloaded when missing), not the model.
    if (config.staticOnly && !config.skipModel) for (const model of config.models) await modelFile(config, model);
    else if (!config.skipModel) models = await loadModels(config);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`start: ${error.message}`);
      return 2;
    }
    if (error instanceof ModelDownloadError) {
      console.error(`start: ${(error as Error).message}`);
      return 1;
    }
    throw error;
  }

  if (config.staticOnly) {
    // A static host and a relay: no API, libp2p node, engine, invite or /companion.json.
    const host = await startStaticHost(config);
    running = host;
    process.stdout.write(`app: ${host.urls.app}\nnostr: ${host.urls.nostr}\n`);
    return stopped;
  }
  let speculative: SpeculativeConfig | undefined;
  try {
    speculative = models.length > 0 ? await loadDraft(config) : undefined;
  } catch (error) {
    console.error(`start: ${(error as Error).message}`);
    return error instanceof ConfigError ? 2 : 1;
  }
  const companion = await startCompanion(config, { models, ...(speculative ? { speculative } : {}) });
  running = companion;
  const { urls } = companion;
  // Printed before the URLs, so whoever waits for the URL lines already has it.
  if (companion.apiTokenGenerated) process.stdout.write(`token: ${companion.apiToken}\n`);
  if (companion.tls) {
    console.error(
      `start: serving the app, API, relay and libp2p over HTTPS/WSS with a self-signed certificate (${companion.tls.certPath}${companion.tls.created ? ', just made' : ''});`,
    );
    console.error(`start: browsers warn once per device: check the fingerprint SHA-256 ${companion.tls.fingerprint} and accept it`);
    // Clicking through the warning is not enough for service workers (README: "Another device on your network").
    console.error(
      `start: for the service worker, trust it in the browser: e.g. chromium --user-data-dir=… --ignore-certificate-errors-spki-list=${companion.tls.spki}`,
    );
    // Chrome keeps the exception per host; Firefox per host and port, so each service's port needs one there.
    console.error(`start: in Firefox, also open ${urls.api}/health and the https:// form of the nostr and libp2p ports once to accept it for them`);
  }
  if (isWildcardHost(config.host) && !config.publicHost && new URL(urls.app).hostname.startsWith('127.')) {
    console.error('start: this machine has no default route, so the URLs name loopback; give --public-host with the address other devices reach it by');
  }
  // The invite to the companion's own private mesh, before the URL lines so whoever waits for those has it too.
  process.stdout.write(`invite: ${companion.invite}\n`);
  if (companion.openMesh) process.stdout.write(`mesh: ${companion.openMesh.link}\n`);
  // Printed only now that every service listens (and the signal handlers are in place): tests wait for these lines.
  process.stdout.write(
    `app: ${urls.app}\nnostr: ${urls.nostr}\napi: ${urls.api}\nlibp2p: ${urls.libp2p}\n${urls.quic ? `quic: ${urls.quic}\n` : ''}${urls.webtransport ? `webtransport: ${urls.webtransport}\n` : ''}`,
  );
  return stopped;
}

/** Resolves with the exit code once a SIGINT/SIGTERM has stopped the companion. */
function onStopSignal(current: () => { stop(): Promise<void> } | null): Promise<number> {
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
