import { describe, expect, it } from 'vitest';
import { FIRST_PART_BYTES, memoryPartStore } from './models-download.ts';
import { ModelsManager } from './models-manager.ts';

const ORIGIN = 'http://app.test';

/** Serves one file with ranges; `hold` keeps the n-th request waiting until released. */
function server(size: number) {
  const file = new Uint8Array(size).map((_, i) => i & 255);
  let release: (() => void) | null = null;
  let holdAt = -1;
  let count = 0;
  const fetchFn = (async (_url: string, init?: RequestInit) => {
    const n = count++;
    if (n === holdAt) await new Promise<void>((r) => (release = r));
    init?.signal?.throwIfAborted();
    const [, a, b] = /bytes=(\d+)-(\d+)/.exec(new Headers(init?.headers).get('range')!)!;
    const end = Math.min(size - 1, Number(b));
    return new Response(file.slice(Number(a), end + 1), { status: 206, headers: { 'content-range': `bytes ${a}-${end}/${size}` } });
  }) as typeof fetch;
  return { fetchFn, holdRequest: (n: number) => (holdAt = n), release: () => release?.() };
}

describe('ModelsManager', () => {
  it('downloads a catalog model to done, and forgets it on delete', async () => {
    const store = memoryPartStore();
    const { fetchFn } = server(3 * FIRST_PART_BYTES);
    const manager = new ModelsManager(store, { fetch: fetchFn, origin: ORIGIN });
    const states: string[] = [];
    manager.subscribe(() => states.push(manager.entry('tiny-llama-q8_0')!.state));
    await manager.download('tiny-llama-q8_0');
    expect(manager.entry('tiny-llama-q8_0')).toMatchObject({ state: 'done', received: 3 * FIRST_PART_BYTES, total: 3 * FIRST_PART_BYTES, error: null });
    expect(states[0]).toBe('downloading');
    await manager.delete('tiny-llama-q8_0');
    expect(manager.entry('tiny-llama-q8_0')!.state).toBe('none');
    expect(await store.manifests()).toEqual([]);
  });

  it('pauses, and a fresh manager (a reload) shows the stored part as paused and resumes', async () => {
    const store = memoryPartStore();
    const { fetchFn, holdRequest, release } = server(4 * FIRST_PART_BYTES);
    holdRequest(2);
    const manager = new ModelsManager(store, { fetch: fetchFn, origin: ORIGIN });
    const running = manager.download('tiny-llama-q8_0');
    await new Promise((r) => setTimeout(r, 20));
    manager.pause('tiny-llama-q8_0');
    release();
    await running;
    expect(manager.entry('tiny-llama-q8_0')!.state).toBe('paused');

    const reloaded = new ModelsManager(store, { fetch: fetchFn, origin: ORIGIN });
    await reloaded.load();
    expect(reloaded.entry('tiny-llama-q8_0')).toMatchObject({ state: 'paused', received: 2 * FIRST_PART_BYTES });
    await reloaded.download('tiny-llama-q8_0');
    expect(reloaded.entry('tiny-llama-q8_0')).toMatchObject({ state: 'done', fetchedThisRun: 2 * FIRST_PART_BYTES });
  });

  it('shows a failed download as an error with the reason', async () => {
    const manager = new ModelsManager(memoryPartStore(), { fetch: (async () => { throw new TypeError('Failed to fetch'); }) as typeof fetch, origin: ORIGIN });
    await manager.download('qwen2.5-0.5b-instruct-q4_k_m');
    expect(manager.entry('qwen2.5-0.5b-instruct-q4_k_m')).toMatchObject({ state: 'error' });
    expect(manager.entry('qwen2.5-0.5b-instruct-q4_k_m')!.error).toMatch(/huggingface\.co/);
  });

  it('lists stored downloads of custom URLs after a reload', async () => {
    const store = memoryPartStore();
    await store.putManifest({ id: 'mine', url: 'https://example.com/mine.gguf', total: 10, received: 10, parts: [0], etag: null, complete: true, updatedAt: 0 });
    const manager = new ModelsManager(store, { origin: ORIGIN });
    await manager.load();
    expect(manager.entry('mine')).toMatchObject({ state: 'done', model: { source: 'custom', title: 'mine.gguf', note: 'example.com' } });
  });
});
