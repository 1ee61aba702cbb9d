// Puts the official `openai` and `@anthropic-ai/sdk` npm clients, unmodified, into a page of the
// app's own origin, so their fetch calls go through the service worker like any page's would. They
// are bundled on the fly with rolldown (Vite's bundler) into one classic script that sets
// window.MeshSdks, cached under .cache/sdk-page/ and keyed by the two packages' versions, and
// injected with addScriptTag: nothing is served from another origin and the app itself is unchanged.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type Anthropic from '@anthropic-ai/sdk';
import type { Page } from '@playwright/test';
import type OpenAI from 'openai';
import { build } from 'rolldown';

declare global {
  interface Window {
    MeshSdks: { OpenAI: typeof OpenAI; Anthropic: typeof Anthropic };
  }
}

const root = join(import.meta.dirname, '..', '..');
const dir = join(root, '.cache', 'sdk-page');

function version(pkg: string): string {
  // Read from node_modules directly: neither package exports its package.json.
  return (JSON.parse(readFileSync(join(root, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
}

/** The bundle's source text (built once per pair of SDK versions). */
export async function sdkBundle(): Promise<string> {
  const file = join(dir, `sdks-openai-${version('openai')}-anthropic-${version('@anthropic-ai/sdk')}.js`);
  if (existsSync(file)) return readFileSync(file, 'utf8');
  mkdirSync(dir, { recursive: true });
  const entry = join(dir, 'entry.mjs');
  writeFileSync(entry, "export { default as OpenAI } from 'openai';\nexport { default as Anthropic } from '@anthropic-ai/sdk';\n");
  const out = await build({ input: entry, cwd: root, platform: 'browser', logLevel: 'warn', write: false, output: { format: 'iife', name: 'MeshSdks' } });
  const code = out.output[0].type === 'chunk' ? out.output[0].code : '';
  if (!code.includes('MeshSdks')) throw new Error(`rolldown gave no SDK bundle (outputs: ${out.output.map((o) => o.fileName).join(', ')})`);
  // Written aside and renamed, so a run cut off mid-write never leaves half a bundle in the cache.
  writeFileSync(`${file}.tmp`, code);
  renameSync(`${file}.tmp`, file);
  return code;
}

/** Injects the SDKs into the page (after it has loaded); they are at window.MeshSdks afterwards. */
export async function addSdks(page: Page): Promise<void> {
  await page.addScriptTag({ content: await sdkBundle() });
  await page.waitForFunction(() => typeof window.MeshSdks?.OpenAI === 'function' && typeof window.MeshSdks?.Anthropic === 'function');
}
