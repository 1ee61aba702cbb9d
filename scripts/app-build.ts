// Decides whether dist/ is older than the PWA's sources, and rebuilds it with vite (for npm start).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** What the browser bundle is made of. The companion's own code (Node only) is left out. */
export const APP_SOURCES = ['index.html', 'src', 'workers', 'public', 'tools/build', 'vite.config.ts'];
const NOT_IN_BUNDLE = [join('src', 'companion')];

export type BuildState = 'missing' | 'stale' | 'fresh';

export function appBuildState(root: string, distDir: string): BuildState {
  const built = join(distDir, 'index.html');
  if (!existsSync(built) || !existsSync(join(distDir, 'sw.js'))) return 'missing';
  const builtAt = statSync(built).mtimeMs;
  const skip = new Set(NOT_IN_BUNDLE.map((p) => join(root, p)));
  const changedAt = Math.max(...APP_SOURCES.map((p) => newestMtime(join(root, p), skip)));
  return changedAt > builtAt ? 'stale' : 'fresh';
}

function newestMtime(path: string, skip: Set<string>): number {
  if (skip.has(path) || !existsSync(path)) return 0;
  const info = statSync(path);
  if (!info.isDirectory()) return path.endsWith('.test.ts') ? 0 : info.mtimeMs;
  // Files only: a folder's own time changes when a test file is added, which needs no rebuild.
  let newest = 0;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry), skip));
  return newest;
}

export async function buildApp(root: string, distDir: string): Promise<void> {
  const { build } = await import('vite');
  await build({ root, configFile: join(root, 'vite.config.ts'), logLevel: 'warn', build: { outDir: distDir } });
}
