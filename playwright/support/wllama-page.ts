// Drives @wllama/wllama inside the served page: loads a model fetched from the local server on the
// CPU (WASM), runs a greedy raw completion with top-K log-probabilities, returns plain JSON.
import type { Page } from 'playwright-core';

export interface WllamaStep {
  id: number;
  logprob: number;
  top: { id: number; logprob: number }[];
}

export interface WllamaRun {
  crossOriginIsolated: boolean;
  multithread: boolean;
  threads: number;
  libllama: string;
  promptTokens: number;
  steps: WllamaStep[];
  loadMs: number;
  completionMs: number;
}

export interface WllamaRunOptions {
  modelUrl: string;
  prompt: string;
  steps: number;
  topK: number;
  threads: number;
}

export async function runWllama(page: Page, options: WllamaRunOptions): Promise<WllamaRun> {
  return page.evaluate(async (o) => {
    const wllamaUrl = '/wllama/index.js'; // a variable: the bundler-free page imports it at run time
    const { Wllama } = await import(wllamaUrl);
    const wllama = new Wllama({ default: '/wllama/wasm/wllama.wasm' }, { suppressNativeLog: true });
    const blob = await (await fetch(o.modelUrl)).blob();
    const loadStart = performance.now();
    // CPU only (WebGPU would be SwiftShader here) and an F32 KV cache, as the node-llama-cpp reference uses.
    await wllama.loadModel([blob], {
      n_ctx: 256,
      n_threads: o.threads,
      n_gpu_layers: 0,
      cache_type_k: 'f32',
      cache_type_v: 'f32',
      flash_attn: false,
    });
    const completionStart = performance.now();
    const response = await wllama.createCompletion({
      prompt: o.prompt,
      max_tokens: o.steps,
      temperature: 0,
      n_probs: o.topK,
      logprobs: o.topK,
    });
    const done = performance.now();
    // llama-server (inside wllama) answers with ids despite the OpenAI-style typings: logprobs.content[].
    const content = response.choices[0].logprobs.content as { id: number; logprob: number; top_logprobs: { id: number; logprob: number }[] }[];
    const run = {
      crossOriginIsolated: globalThis.crossOriginIsolated,
      multithread: wllama.isMultithread(),
      threads: wllama.getNumThreads(),
      libllama: Wllama.getLibllamaVersion(),
      promptTokens: response.usage.prompt_tokens,
      steps: content.map((c) => ({ id: c.id, logprob: c.logprob, top: c.top_logprobs.map((t) => ({ id: t.id, logprob: t.logprob })) })),
      loadMs: completionStart - loadStart,
      completionMs: done - completionStart,
    };
    await wllama.exit();
    return run;
  }, options);
}
