// WorkerProvider against the in-process EngineProvider on the same model: the same greedy tokens and
// log-probs through the API, a conversation's next turn reusing its prefix in the worker, and an
// abort that stops the worker within a token. The worker is the real one (Node worker_thread).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../../tools/models/registry.ts';
import { createApiContext, handleApiRequest } from '../api/index.ts';
import { Engine } from '../engine/engine.ts';
import { fileSource } from '../engine/file-source.ts';
import { startNodeInferenceWorker } from '../engine/testing/worker-node.ts';
import type { WorkerEngine } from '../engine/worker-client.ts';
import { openGguf } from '../gguf/split.ts';
import { EngineProvider } from './engine-provider.ts';
import { WorkerProvider } from './worker-provider.ts';
import type { ModelProvider } from './provider.ts';
import { DEFAULT_SAMPLING } from '../protocol/generation.ts';

const MODEL = 'tiny-llama-q8_0';
let path: string;
let worker: WorkerEngine;
let local: Engine;
let tab: WorkerProvider;

const readHeader = async (p: string) => {
  const source = await fileSource(p);
  try {
    return (await openGguf(source)).header;
  } finally {
    await source.close();
  }
};

beforeAll(async () => {
  path = await ensureModel(MODEL);
  worker = await startNodeInferenceWorker();
  local = await Engine.load(path, { backend: 'cpu' });
  tab = await WorkerProvider.load(worker, { id: MODEL, url: path }, { load: { backend: 'cpu' }, readHeader });
});
afterAll(async () => {
  await tab?.close();
  worker?.terminate();
  await local?.close();
});

async function ask(provider: ModelProvider, body: Record<string, unknown>, signal?: AbortSignal): Promise<Response> {
  const ctx = createApiContext({ provider });
  return handleApiRequest(
    new Request('http://x/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal }),
    ctx,
  );
}

const chat = { model: MODEL, messages: [{ role: 'user', content: 'Tell me about the sea.' }], max_tokens: 12, temperature: 0, logprobs: true, top_logprobs: 3 };

describe('WorkerProvider', () => {
  it('lists the model as served by the tab, with the context the worker loaded', () => {
    expect(tab.listModels()).toEqual([{ id: MODEL, ownedBy: 'tab', contextLength: local.maxPositions, created: 0 }]);
    expect(tab.info.backend).toBe('cpu');
  });

  it("answers with the in-process engine's greedy text and log-probs", async () => {
    const want = await (await ask(new EngineProvider([{ id: MODEL, engine: local }]), chat)).json();
    const res = await ask(tab, chat);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-mesh-served-by')).toBe('tab;layers=0-2');
    const got = await res.json();
    expect(got.usage.completion_tokens).toBe(12);
    expect(got.choices[0].message.content).toBe(want.choices[0].message.content);
    const lp = (b: typeof got) => b.choices[0].logprobs.content.map((c: { token: string; logprob: number }) => [c.token, c.logprob]);
    const [a, b] = [lp(got), lp(want)];
    expect(a.map((x: unknown[]) => x[0])).toEqual(b.map((x: unknown[]) => x[0]));
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i][1] - b[i][1])).toBeLessThan(1e-5);
  });

  it("reuses a conversation's prefix in the worker on the next turn", async () => {
    const first = await (await ask(tab, { ...chat, logprobs: false, top_logprobs: undefined })).json();
    const before = { ...tab.prefill };
    const next = {
      ...chat,
      logprobs: false,
      top_logprobs: undefined,
      messages: [...chat.messages, { role: 'assistant', content: first.choices[0].message.content }, { role: 'user', content: 'And the moon?' }],
    };
    const res = await (await ask(tab, next)).json();
    expect(res.usage.completion_tokens).toBeGreaterThan(0);
    const reused = tab.prefill.reused - before.reused;
    // at least the first turn's whole prompt came from the KV cache kept in the worker
    expect(reused).toBeGreaterThanOrEqual(first.usage.prompt_tokens);
    expect(res.choices[0].message.content).toBe(
      (await (await ask(new EngineProvider([{ id: MODEL, engine: local }]), next)).json()).choices[0].message.content,
    );
  });

  it('stops within one token of an abort, and serves the next request', async () => {
    const { tokenizer, template } = await tab.modelText(MODEL);
    const promptTokens = tokenizer.tokenize(template.render([{ role: 'user', content: 'Go on and on.' }]), { parseSpecial: true });
    const controller = new AbortController();
    const generation = await tab.generate({
      model: MODEL,
      promptTokens,
      maxTokens: 100,
      sampling: { ...DEFAULT_SAMPLING, temperature: 0 },
      signal: controller.signal,
    });
    let produced = 0,
      afterAbort = 0;
    await expect(
      (async () => {
        for await (const _ of generation.tokens) {
          produced++;
          if (controller.signal.aborted) afterAbort++;
          if (produced === 3) controller.abort();
        }
      })(),
    ).rejects.toMatchObject({ name: 'AbortError' });
    expect(produced).toBe(3);
    expect(afterAbort).toBe(0);
    const after = await (await ask(tab, { ...chat, logprobs: false, top_logprobs: undefined, max_tokens: 2 })).json();
    expect(after.usage.completion_tokens).toBe(2);
  });
});
