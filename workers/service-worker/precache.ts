// How a new version fills its cache: a file whose content hash an older version's cache already holds
// is copied from there, only the others come from the network, so an update that changed one file
// downloads one file. Each cache records its url → hash map under a dotfile URL, which is never a
// shell file (dotfiles are not precached), for the next version to compare against.

export const HASHES_KEY = '.mesh-precache-hashes.json';

/** url (absolute, the cache key) → content hash. */
export type Hashes = Record<string, string>;

export interface InstallPlan {
  /** url → the older cache to copy it from. */
  copy: Map<string, string>;
  fetch: string[];
}

/** Pure: which files the caches in `older` (name → their hashes) can give, and which must be fetched. */
export function planInstall(wanted: Hashes, older: ReadonlyMap<string, Hashes>): InstallPlan {
  const copy = new Map<string, string>();
  const fetch: string[] = [];
  for (const [url, hash] of Object.entries(wanted)) {
    const from = [...older].find(([, hashes]) => hashes[url] === hash)?.[0];
    if (from) copy.set(url, from);
    else fetch.push(url);
  }
  return { copy, fetch };
}

async function hashesOf(cache: Cache, key: string): Promise<Hashes | null> {
  const stored = await cache.match(key);
  if (!stored) return null;
  try {
    return (await stored.json()) as Hashes;
  } catch {
    return null;
  }
}

/**
 * Fills cache `name` with `wanted` (caches named with `prefix` are the older versions). The hashes go
 * in last, so a cache whose install broke off is never taken for a complete one.
 */
export async function installShell(storage: CacheStorage, name: string, prefix: string, scope: string, wanted: Hashes): Promise<InstallPlan> {
  const key = new URL(HASHES_KEY, scope).href;
  const older = new Map<string, Hashes>();
  for (const other of await storage.keys()) {
    if (!other.startsWith(prefix) || other === name) continue;
    const hashes = await hashesOf(await storage.open(other), key);
    if (hashes) older.set(other, hashes);
  }
  const plan = planInstall(wanted, older);
  const cache = await storage.open(name);
  const copied = new Map<string, string>();
  const fetch = [...plan.fetch];
  for (const [url, from] of plan.copy) {
    const response = await (await storage.open(from)).match(url);
    if (response) {
      await cache.put(url, response);
      copied.set(url, from);
    } else fetch.push(url); // evicted since its hashes were written
  }
  // 'reload' bypasses the HTTP cache so a new deploy never precaches a stale copy.
  await cache.addAll(fetch.map((url) => new Request(url, { cache: 'reload' })));
  await cache.put(key, new Response(JSON.stringify(wanted), { headers: { 'content-type': 'application/json' } }));
  return { copy: copied, fetch };
}
