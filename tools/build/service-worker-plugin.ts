// Vite plugin: once the app is written to dist/, builds workers/service-worker.ts into dist/sw.js (a
// fixed name, so its scope and update checks are stable) with the precache manifest of everything the
// build wrote compiled in. A separate, single-file build: the worker loads as a classic script and can
// never share a chunk with the page, even when both import the same protocol module.
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { build, type Plugin } from 'vite';
import type { PrecacheManifest } from '../../src/protocol/service-worker-messages.ts';
import { precacheManifest, type BuiltFile } from './precache-manifest.ts';

export const SERVICE_WORKER_SOURCE = 'workers/service-worker.ts';
export const SERVICE_WORKER_FILE = 'sw.js';

type SourceMapOption = boolean | 'inline' | 'hidden';

function walk(dir: string, root = dir): BuiltFile[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) return walk(full, root);
    return [{ path: relative(root, full).split(sep).join('/'), bytes: readFileSync(full) }];
  });
}

export function serviceWorkerPlugin(): Plugin {
  let root = '';
  let outDir = '';
  let sourcemap: SourceMapOption = false;
  return {
    name: 'mesh:service-worker',
    apply: 'build',
    configResolved(config) {
      root = config.root;
      outDir = resolve(config.root, config.build.outDir); // npm start passes an absolute --dist
      sourcemap = config.build.sourcemap;
    },
    // After every file (the public folder included) is on disk, so the list is exactly what ships.
    async writeBundle() {
      try {
        const manifest = await writeServiceWorker(root, outDir, sourcemap);
        this.info(`${SERVICE_WORKER_FILE}: ${manifest.files.length} files precached, version ${manifest.version}`);
      } catch (error) {
        // Without sw.js this dist/ is no deployable build: drop its index.html so that no freshness
        // check (npm start's included) takes it for a finished one.
        rmSync(join(outDir, 'index.html'), { force: true });
        throw error;
      }
    },
  };
}

/** (Re)writes outDir/sw.js for the files now in outDir. Tests use it to stage a "new deploy". */
export async function writeServiceWorker(root: string, outDir: string, sourcemap: SourceMapOption = false): Promise<PrecacheManifest> {
  const manifest = precacheManifest(walk(outDir));
  await build({
    configFile: false,
    root,
    logLevel: 'warn',
    publicDir: false,
    define: { __MESH_PRECACHE_MANIFEST__: JSON.stringify(manifest) },
    build: {
      outDir,
      emptyOutDir: false,
      copyPublicDir: false,
      target: 'es2022',
      sourcemap,
      lib: { entry: join(root, SERVICE_WORKER_SOURCE), formats: ['iife'], name: 'meshServiceWorker', fileName: () => SERVICE_WORKER_FILE },
    },
  });
  return manifest;
}
