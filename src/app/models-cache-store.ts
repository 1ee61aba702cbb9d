// The PartStore the app uses: Cache Storage, which a page and its service worker (and later the
// inference worker) can all read. Each part is one entry; the manifest is a JSON entry beside them.
import type { DownloadManifest, PartStore } from './models-download.ts';

export const MODEL_CACHE = 'mesh-models-v1';

export function cachePartStore(origin: string = location.origin): PartStore {
  const open = () => caches.open(MODEL_CACHE);
  const base = (id: string) => `${origin}/__mesh/models/${encodeURIComponent(id)}`;
  const manifestKey = (id: string) => `${base(id)}/manifest.json`;
  const partKey = (id: string, offset: number) => `${base(id)}/part-${offset}`;

  const manifest = async (id: string): Promise<DownloadManifest | null> => {
    const hit = await (await open()).match(manifestKey(id));
    return hit ? ((await hit.json()) as DownloadManifest) : null;
  };

  return {
    manifest,
    async putManifest(m) {
      await (await open()).put(manifestKey(m.id), new Response(JSON.stringify(m), { headers: { 'content-type': 'application/json' } }));
    },
    async putPart(id, offset, bytes) {
      await (await open()).put(partKey(id, offset), new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) } }));
    },
    async manifests() {
      const cache = await open();
      const keys = (await cache.keys()).filter((r) => r.url.endsWith('/manifest.json'));
      const out: DownloadManifest[] = [];
      for (const key of keys) {
        const hit = await cache.match(key);
        if (hit) out.push((await hit.json()) as DownloadManifest);
      }
      return out;
    },
    async file(id) {
      const m = await manifest(id);
      const cache = await open();
      const blobs: Blob[] = [];
      for (const offset of m?.parts ?? []) {
        const hit = await cache.match(partKey(id, offset));
        if (!hit) throw new Error(`part at byte ${offset} of ${id} is missing from the cache; delete the model and download it again`);
        blobs.push(await hit.blob());
      }
      return new Blob(blobs, { type: 'application/octet-stream' });
    },
    async delete(id) {
      const cache = await open();
      const prefix = `${base(id)}/`;
      await Promise.all((await cache.keys()).filter((r) => r.url.startsWith(prefix)).map((r) => cache.delete(r)));
    },
  };
}
