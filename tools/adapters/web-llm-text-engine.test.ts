// The web-llm adapter against a fake MLCEngine: streamed chunks to events, usage, abort through
// interruptGenerate, and load failures as typed errors. The real library is exercised in Chromium
// (playwright/adapters.spec.ts) as far as it runs offline.
import { describe, expect, it, vi } from 'vitest';
import { collectText } from './text-engine.ts';
import { loadWebLlmTextEngine, type MlcEngineLike, type WebLlmModuleLike } from './web-llm-text-engine.ts';

const location = { modelId: 'm', model: 'http://127.0.0.1:1/m/resolve/main/', modelLib: 'http://127.0.0.1:1/m.wasm' };

function fakeModule(o: { reload?: () => Promise<void>; pieces?: string[] } = {}) {
  const calls: { kind: string; request: Record<string, unknown> }[] = [];
  let interrupted = false;
  const unload = vi.fn(async () => {});
  async function* chunks(chat: boolean) {
    for (const p of o.pieces ?? ['Hel', 'lo', '!']) {
      await new Promise((r) => setTimeout(r, 1));
      if (interrupted) {
        yield { choices: [{ [chat ? 'delta' : 'text']: chat ? { content: '' } : '', finish_reason: 'abort' }] };
        return;
      }
      yield { choices: [chat ? { delta: { content: p }, finish_reason: null } : { text: p, finish_reason: null }] };
    }
    yield { choices: [chat ? { delta: {}, finish_reason: 'stop' } : { text: '', finish_reason: 'stop' }] };
    yield { choices: [], usage: { prompt_tokens: 7, completion_tokens: (o.pieces ?? [1, 2, 3]).length } };
  }
  const engine: MlcEngineLike = {
    reload: o.reload ?? (async () => {}),
    unload,
    interruptGenerate: () => {
      interrupted = true;
    },
    chat: {
      completions: {
        create: async (request) => {
          calls.push({ kind: 'chat', request });
          return chunks(true);
        },
      },
    },
    completions: {
      create: async (request) => {
        calls.push({ kind: 'text', request });
        return chunks(false);
      },
    },
  };
  const module: WebLlmModuleLike = {
    MLCEngine: class {
      constructor() {
        // biome-ignore lint/correctness/noConstructorReturn: a fake `new MLCEngine()` that hands back the test's engine
        return engine;
      }
    } as never,
  };
  return { module, calls, unload, engine };
}

describe('WebLlmTextEngine', () => {
  it('streams a raw-text completion with usage', async () => {
    const f = fakeModule();
    const e = await loadWebLlmTextEngine({ ...location, module: f.module });
    const r = await collectText(e.generate({ prompt: { text: 'Say hi' }, maxTokens: 8, sampling: { temperature: 0 }, stop: ['\n'] }));
    expect(r.text).toBe('Hello!');
    expect(r.done).toMatchObject({ finishReason: 'stop', usage: { promptTokens: 7, completionTokens: 3 } });
    expect(f.calls).toEqual([
      { kind: 'text', request: expect.objectContaining({ prompt: 'Say hi', max_tokens: 8, temperature: 0, stop: ['\n'], stream: true }) },
    ]);
    expect(e.id).toBe('m');
  });

  it('sends chat prompts to chat.completions', async () => {
    const f = fakeModule();
    const e = await loadWebLlmTextEngine({ ...location, id: 'chat-model', module: f.module });
    const r = await collectText(e.generate({ prompt: { messages: [{ role: 'user', content: 'hi' }] }, maxTokens: 8 }));
    expect(r.text).toBe('Hello!');
    expect(f.calls[0]).toMatchObject({ kind: 'chat', request: { messages: [{ role: 'user', content: 'hi' }] } });
  });

  it('interrupts the generation when aborted and rejects with the reason', async () => {
    const f = fakeModule({ pieces: ['a', 'b', 'c', 'd', 'e', 'f'] });
    const e = await loadWebLlmTextEngine({ ...location, module: f.module });
    const controller = new AbortController();
    const seen: string[] = [];
    const run = async () => {
      for await (const ev of e.generate({ prompt: { text: 'x' }, maxTokens: 8, signal: controller.signal })) {
        if (ev.type === 'token') seen.push(ev.text);
        if (seen.length === 2) controller.abort();
      }
    };
    await expect(run()).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen).toEqual(['a', 'b']);
  });

  it('turns load failures into typed errors and releases the engine', async () => {
    const fetchFailed = fakeModule({
      reload: async () => {
        throw new TypeError('Failed to fetch');
      },
    });
    await expect(loadWebLlmTextEngine({ ...location, module: fetchFailed.module })).rejects.toMatchObject({
      name: 'AdapterError',
      code: 'adapter_load_failed',
      message: expect.stringContaining('mlc-chat-config.json'),
    });
    expect(fetchFailed.unload).toHaveBeenCalled();

    const noGpu = fakeModule({
      reload: async () => {
        throw Object.assign(new Error('WebGPU is not supported'), { name: 'WebGPUNotAvailableError' });
      },
    });
    await expect(loadWebLlmTextEngine({ ...location, module: noGpu.module })).rejects.toMatchObject({ code: 'adapter_unsupported_environment' });

    const hung = fakeModule({ reload: () => new Promise(() => {}) });
    await expect(loadWebLlmTextEngine({ ...location, module: hung.module, timeoutMs: 30 })).rejects.toMatchObject({ code: 'adapter_load_timeout' });
    expect(hung.unload).toHaveBeenCalled();
  });

  it('refuses to generate after close', async () => {
    const f = fakeModule();
    const e = await loadWebLlmTextEngine({ ...location, module: f.module });
    await e.close();
    expect(f.unload).toHaveBeenCalledOnce();
    await expect(collectText(e.generate({ prompt: { text: 'x' }, maxTokens: 1 }))).rejects.toMatchObject({ code: 'adapter_closed' });
  });
});
