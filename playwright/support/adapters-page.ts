// Runs in the test page: drives the whole-model adapters and returns plain JSON (errors as
// {name, code, message}) so the spec can assert on them.
import { AdapterError, collectText, loadWebLlmTextEngine, loadWllamaTextEngine, type TextEngine } from '../../tools/adapters/index.ts';

export interface ErrorInfo {
  name: string;
  code?: string;
  message: string;
  ms: number;
}

const WASM = '/node_modules/@wllama/wllama/esm/wasm/wllama.wasm';
let wllama: TextEngine | undefined;

async function caught(f: () => Promise<unknown>): Promise<ErrorInfo | { ok: true; ms: number }> {
  const start = performance.now();
  try {
    await f();
    return { ok: true, ms: performance.now() - start };
  } catch (e) {
    const err = e as Error & { code?: string };
    return {
      name: err.name,
      code: err.code,
      message: err.message,
      ms: performance.now() - start,
      ...(e instanceof AdapterError ? {} : { notAdapterError: true }),
    };
  }
}

export async function wllamaLoad(url: string): Promise<{ contextLength: number; id: string; isolated: boolean }> {
  wllama = await loadWllamaTextEngine({ url, wasmUrl: WASM, contextLength: 256, threads: 1, timeoutMs: 60_000 });
  return { contextLength: wllama.contextLength, id: wllama.id, isolated: globalThis.crossOriginIsolated };
}

export async function wllamaGreedy(prompt: string, maxTokens: number) {
  const r = await collectText(wllama!.generate({ prompt: { text: prompt }, maxTokens, sampling: { temperature: 0 } }));
  return { tokens: r.tokens, text: r.text, finishReason: r.done.finishReason, usage: r.done.usage };
}

/** Aborts after `after` tokens; then checks the engine still serves a request. */
export async function wllamaAbort(prompt: string, after: number) {
  const controller = new AbortController();
  let seen = 0;
  const error = await caught(async () => {
    for await (const e of wllama!.generate({ prompt: { text: prompt }, maxTokens: 200, sampling: { temperature: 0 }, signal: controller.signal })) {
      if (e.type === 'token' && ++seen === after) controller.abort();
    }
  });
  const next = await collectText(wllama!.generate({ prompt: { text: prompt }, maxTokens: 2, sampling: { temperature: 0 } }));
  return { error, seen, nextTokens: next.tokens.length };
}

export async function wllamaClose(): Promise<void> {
  await wllama?.close();
  wllama = undefined;
}

export function wllamaBadLoad(url: string, timeoutMs: number) {
  return caught(() => loadWllamaTextEngine({ url, wasmUrl: WASM, contextLength: 256, threads: 1, timeoutMs }));
}

export function webLlmBadLoad(model: string, modelLib: string, timeoutMs: number) {
  return caught(() => loadWebLlmTextEngine({ modelId: 'offline-test-model', model, modelLib, timeoutMs }));
}
