// Drives @wllama/wllama inside the served page: loads a model fetched from the local server on the
// CPU (WASM), runs a greedy raw completion with top-K log-probabilities, or scores a prompt
// teacher-forced (wllamaTeacherForced), and returns plain JSON.
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

export interface WllamaTeacherForcedOptions {
  modelUrl: string;
  /** The prompt's tokens, scored one position at a time. */
  tokens: number[];
  /** prefixes[i]: text that tokenizes to tokens[0..i] (promptPrefixes): wllama 3.8 fails on a prompt of token ids. */
  prefixes: string[];
  topK: number;
  threads: number;
}

export interface WllamaTeacherForced {
  libllama: string;
  threads: number;
  /** positions[i]: wllama's top-K after tokens[0..i], as the reference's positions. */
  positions: { id: number; logprob: number }[][];
  /** promptLogprobs[i]: the log-prob of tokens[i + 1] after tokens[0..i], as the reference's. */
  promptLogprobs: number[];
  /** Prompt tokens llama-server evaluated in all (the rest it took from its cache). */
  evaluated: number;
  loadMs: number;
  scoreMs: number;
}

/**
 * Teacher-forced log-probs from wllama, which has no echo: one one-token completion per position on
 * the prompt's text so far (llama-server reuses the cached prefix, so each evaluates one new token),
 * with a logit bias making it pick the prompt's next token. llama-server reports the picked token's and
 * the top-K's probabilities from the raw logits (before the bias), a float32 softmax (~1e-4).
 */
export async function wllamaTeacherForced(page: Page, options: WllamaTeacherForcedOptions): Promise<WllamaTeacherForced> {
  return page.evaluate(async (o) => {
    const wllamaUrl = '/wllama/index.js';
    const { Wllama } = await import(wllamaUrl);
    const wllama = new Wllama({ default: '/wllama/wasm/wllama.wasm' }, { suppressNativeLog: true });
    const blob = await (await fetch(o.modelUrl)).blob();
    const loadStart = performance.now();
    // As the node-llama-cpp reference: CPU, an F32 KV cache, no flash attention.
    await wllama.loadModel([blob], {
      n_ctx: 256,
      n_threads: o.threads,
      n_gpu_layers: 0,
      cache_type_k: 'f32',
      cache_type_v: 'f32',
      flash_attn: false,
    });
    const scoreStart = performance.now();
    const positions: { id: number; logprob: number }[][] = [];
    const promptLogprobs: number[] = [];
    let evaluated = 0;
    for (let i = 0; i < o.tokens.length; i++) {
      // After the last token nothing is forced, but a picked token of partial UTF-8 breaks wllama 3.8's
      // reply, so it is steered to the first prompt token (whole text); only the top-K is read there.
      const pick = i + 1 < o.tokens.length ? o.tokens[i + 1] : o.tokens[0];
      const response = await wllama.createCompletion({
        prompt: o.prefixes[i],
        max_tokens: 1,
        temperature: 0,
        n_probs: o.topK,
        logprobs: o.topK,
        cache_prompt: true,
        logit_bias: { [pick]: 1e4 },
      });
      const step = response.choices[0].logprobs.content[0] as { id: number; logprob: number; top_logprobs: { id: number; logprob: number }[] };
      if (response.usage.prompt_tokens !== i + 1) throw new Error(`position ${i}: wllama read ${response.usage.prompt_tokens} prompt tokens, not ${i + 1}`);
      if (step.id !== pick) throw new Error(`position ${i}: wllama picked ${step.id}, not the forced ${pick}: the logit bias did not hold`);
      positions.push(step.top_logprobs.map((t) => ({ id: t.id, logprob: t.logprob })));
      if (i + 1 < o.tokens.length) promptLogprobs.push(step.logprob);
      evaluated += response.timings?.prompt_n ?? 0;
    }
    const done = performance.now();
    const run = {
      libllama: Wllama.getLibllamaVersion(),
      threads: wllama.getNumThreads(),
      positions,
      promptLogprobs,
      evaluated,
      loadMs: scoreStart - loadStart,
      scoreMs: done - scoreStart,
    };
    await wllama.exit();
    return run;
  }, options);
}
