// The wllama adapter against a fake Wllama: chunks to events with token ids, usage, early return
// and abort stopping the library's request, and load failures as typed errors. The real library is
// checked against our engine in Chromium (playwright/adapters.spec.ts).
import { describe, expect, it, vi } from 'vitest';
import { collectText } from './text-engine.ts';
import { loadWllamaTextEngine, type WllamaLike, type WllamaModuleLike } from './wllama-text-engine.ts';

function fakeModule(o: { load?: () => Promise<void> } = {}) {
  const requests: Record<string, unknown>[] = [];
  const exit = vi.fn(async () => {});
  const stops: AbortSignal[] = [];
  async function* chunks(request: Record<string, unknown>) {
    const signal = request.abortSignal as AbortSignal;
    stops.push(signal);
    const ids = [10, 11, 12, 13, 14, 15];
    for (let i = 0; i < (request.max_tokens as number); i++) {
      await new Promise((r) => setTimeout(r, 1));
      if (signal.aborted) throw Object.assign(new Error('Operation aborted'), { name: 'AbortError' });
      yield { choices: [{ text: `t${ids[i]}`, finish_reason: null, logprobs: { content: [{ id: ids[i] }] } }] };
    }
    yield { choices: [{ text: '', finish_reason: 'length' }], usage: { prompt_tokens: 4, completion_tokens: request.max_tokens as number } };
  }
  const wllama: WllamaLike = {
    loadModelFromUrl: o.load ?? (async () => {}),
    getLoadedContextInfo: () => ({ n_ctx: 512 }),
    createCompletion: async (r) => {
      requests.push(r);
      return chunks(r);
    },
    createChatCompletion: async (r) => {
      requests.push(r);
      return chunks(r);
    },
    exit,
  };
  const module: WllamaModuleLike = {
    Wllama: class {
      constructor() {
        // biome-ignore lint/correctness/noConstructorReturn: a fake `new Wllama()` that hands back the test's instance
        return wllama;
      }
    } as never,
  };
  return { module, requests, exit, stops };
}

const options = { url: 'http://127.0.0.1:1/models/tiny.gguf', wasmUrl: '/wllama.wasm' };

describe('WllamaTextEngine', () => {
  it('streams tokens with their ids and the usage llama-server reports', async () => {
    const f = fakeModule();
    const e = await loadWllamaTextEngine({ ...options, module: f.module });
    expect(e.id).toBe('tiny');
    expect(e.contextLength).toBe(512);
    const r = await collectText(e.generate({ prompt: { text: 'Hi' }, maxTokens: 3, sampling: { temperature: 0 } }));
    expect(r.tokens).toEqual([10, 11, 12]);
    expect(r.text).toBe('t10t11t12');
    expect(r.done).toMatchObject({ finishReason: 'length', usage: { promptTokens: 4, completionTokens: 3 } });
    expect(f.requests[0]).toMatchObject({ prompt: 'Hi', stream: true, temperature: 0, top_k: 0, n_probs: 1 });
  });

  it('stops the library request when the consumer stops reading', async () => {
    const f = fakeModule();
    const e = await loadWllamaTextEngine({ ...options, module: f.module });
    for await (const ev of e.generate({ prompt: { text: 'Hi' }, maxTokens: 6 })) if (ev.type === 'token') break;
    expect(f.stops[0].aborted).toBe(true);
  });

  it('rejects with the abort reason when aborted', async () => {
    const f = fakeModule();
    const e = await loadWllamaTextEngine({ ...options, module: f.module });
    const controller = new AbortController();
    let n = 0;
    const run = async () => {
      for await (const ev of e.generate({ prompt: { messages: [{ role: 'user', content: 'Hi' }] }, maxTokens: 6, signal: controller.signal })) {
        if (ev.type === 'token' && ++n === 2) controller.abort(new DOMException('client went away', 'AbortError'));
      }
    };
    await expect(run()).rejects.toMatchObject({ name: 'AbortError', message: 'client went away' });
    expect(n).toBe(2);
  });

  it('turns a failed or hung load into a typed error and frees the worker', async () => {
    const bad = fakeModule({
      load: async () => {
        throw new Error('Failed to fetch');
      },
    });
    await expect(loadWllamaTextEngine({ ...options, module: bad.module })).rejects.toMatchObject({
      name: 'AdapterError',
      code: 'adapter_load_failed',
      message: expect.stringContaining('tiny.gguf'),
    });
    expect(bad.exit).toHaveBeenCalled();
    const hung = fakeModule({ load: () => new Promise(() => {}) });
    await expect(loadWllamaTextEngine({ ...options, module: hung.module, timeoutMs: 30 })).rejects.toMatchObject({ code: 'adapter_load_timeout' });
    expect(hung.exit).toHaveBeenCalled();
  });
});
