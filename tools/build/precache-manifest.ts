// The service worker's precache list, made from the build's own output: every file a deploy ships,
// except those the worker must not (or need not) hold, each with a hash of its content, the whole
// versioned by a hash of all of them.
import { createHash } from 'node:crypto';
import type { PrecacheManifest } from '../../src/protocol/service-worker-messages.ts';

export interface BuiltFile {
  /** Path relative to the output folder, with '/' separators. */
  path: string;
  bytes: Uint8Array;
}

/** Kept out of the cache: the worker itself, host config files, source maps, dotfiles. */
export function isPrecached(path: string): boolean {
  const name = path.slice(path.lastIndexOf('/') + 1);
  if (path === 'sw.js' || name.startsWith('.')) return false;
  if (name === '_headers' || name === '_redirects') return false;
  return !name.endsWith('.map');
}

// The start page is cached under the scope URL itself: hosts that redirect /index.html to / would
// otherwise hand the worker a redirected response, which a navigation may not use.
const entry = (path: string) => (path === 'index.html' ? './' : path);

export function precacheManifest(files: readonly BuiltFile[]): PrecacheManifest {
  const kept = files.filter((f) => isPrecached(f.path)).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const hash = createHash('sha256');
  const hashes: Record<string, string> = {};
  for (const file of kept) {
    const digest = createHash('sha256').update(file.bytes).digest();
    hash.update(file.path).update('\0').update(digest).update('\0');
    hashes[entry(file.path)] = digest.toString('hex').slice(0, 32);
  }
  return { version: hash.digest('hex').slice(0, 16), files: kept.map((f) => entry(f.path)), hashes };
}
