// `npm test`: typecheck, lint, unit tests (vitest), production build, browser end-to-end tests (Playwright on
// Debian's Chromium). `--full` (npm run test:full) widens every matrix to all models and types.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const full = process.argv.includes('--full');
const env: NodeJS.ProcessEnv = { ...process.env, MESH_TEST_FULL: full ? '1' : (process.env.MESH_TEST_FULL ?? '') };
const cache = join(root, '.cache', 'test');
mkdirSync(cache, { recursive: true });

interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}
const total: Counts = { passed: 0, failed: 0, skipped: 0 };
const failedSteps: string[] = [];

function step(name: string, file: string, args: string[], counts?: () => Counts): void {
  const started = Date.now();
  console.log(`\n=== ${name} ===`);
  const result = spawnSync(process.execPath, [join(root, file), ...args], { stdio: 'inherit', cwd: root, env });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const ok = result.status === 0;
  if (!ok) failedSteps.push(name);
  if (counts) {
    const c = counts();
    total.passed += c.passed;
    total.failed += c.failed;
    total.skipped += c.skipped;
    if (!ok && c.failed === 0) total.failed += 1; // a runner that crashed before reporting still fails
  } else if (!ok) {
    total.failed += 1;
  }
  console.log(`=== ${name}: ${ok ? 'ok' : `FAILED (exit ${result.status})`} in ${seconds}s ===`);
}

function readJson(path: string): any {
  return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : undefined;
}

const vitestJson = join(cache, 'vitest.json');
const playwrightJson = join(cache, 'playwright.json');

step('typecheck', 'node_modules/typescript/bin/tsc', ['--noEmit', '-p', 'tsconfig.json']);
// Lint and format (biome.jsonc): `npm run lint`; `npx biome check --write .` fixes the format.
step('lint and format (biome)', 'node_modules/@biomejs/biome/bin/biome', ['check', '.']);
step('unit tests (vitest)', 'node_modules/vitest/vitest.mjs', ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${vitestJson}`], () => {
  const r = readJson(vitestJson);
  return r ? { passed: r.numPassedTests, failed: r.numFailedTests, skipped: r.numPendingTests + r.numTodoTests } : { passed: 0, failed: 1, skipped: 0 };
});
step('build', 'scripts/build.ts', []);
env.PLAYWRIGHT_JSON_OUTPUT_NAME = playwrightJson;
step('browser tests (playwright)', 'node_modules/@playwright/test/cli.js', ['test', '--reporter=list,json'], () => {
  const r = readJson(playwrightJson);
  return r?.stats ? { passed: r.stats.expected + r.stats.flaky, failed: r.stats.unexpected, skipped: r.stats.skipped } : { passed: 0, failed: 1, skipped: 0 };
});

if (failedSteps.length) console.log(`\nfailed steps: ${failedSteps.join(', ')}`);
console.log(`\ntest: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exit(failedSteps.length ? 1 : 0);
