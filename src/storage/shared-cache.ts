// The one weight cache of an origin, as every part of the app opens it: the Models view's downloads,
// the inference worker's model loads and a mesh tab's stage loads all read and write the same
// IndexedDB database, so bytes downloaded by one are never fetched again by another.
import { urlSource } from '../gguf/byte-source.ts';
import type { LocatedSource } from '../gguf/split.ts';
import { cachedUrlSource, type CachedSourceInit } from './cached-source.ts';
import { StorageError } from './errors.ts';
import { DEFAULT_BUDGET, WeightCache } from './weight-cache.ts';

/** Share of the browser's quota for this site the cache may fill (the rest is for the app and its other data). */
const QUOTA_SHARE = 0.8;

/**
 * The byte budget: 8 GiB, or less where the browser allows this site less. Every context computes
 * the same figure from the same quota, so a page and a worker evict to the same limit.
 */
export async function weightCacheBudget(): Promise<number> {
  const storage = (globalThis as { navigator?: { storage?: { estimate?: () => Promise<{ quota?: number }> } } }).navigator?.storage;
  const quota = await storage?.estimate?.().then(
    (e) => e.quota,
    () => undefined,
  );
  return quota ? Math.min(DEFAULT_BUDGET, Math.floor(quota * QUOTA_SHARE)) : DEFAULT_BUDGET;
}

let shared: Promise<WeightCache> | undefined;

/** This context's handle on the shared cache, opened once; rejects with StorageError where IndexedDB is absent. */
export function sharedWeightCache(): Promise<WeightCache> {
  if (!shared) {
    shared = weightCacheBudget().then((budgetBytes) => WeightCache.open({ budgetBytes }));
    shared.catch(() => {
      shared = undefined;
    }); // try again next time (storage settings may change)
  }
  return shared;
}

/**
 * A model URL (any shard of a split model) read through the shared cache, or straight from the
 * network where no cache can be kept (no IndexedDB: Node; a server that sends no Content-Length).
 */
export async function openModelUrl(url: string, init: CachedSourceInit = {}): Promise<LocatedSource & { readonly cached: boolean }> {
  if (!/^https?:/i.test(url)) return { ...(await urlSource(url, init)), cached: false };
  let cache: WeightCache;
  try {
    cache = await sharedWeightCache();
  } catch (e) {
    if (e instanceof StorageError) return { ...(await urlSource(url, init)), cached: false };
    throw e;
  }
  try {
    return Object.assign(await cachedUrlSource(cache, url, init), { cached: true });
  } catch (e) {
    if (e instanceof StorageError && e.code === 'storage_unknown_size') return { ...(await urlSource(url, init)), cached: false };
    throw e;
  }
}
