// @wllama/wllama (llama.cpp compiled to WASM) in the same headless Chromium, same model, prompt and
// threads: the engine users would otherwise run in a browser. Speeds come from llama-server's own
// timings (no page overhead counted), so the comparison leans in wllama's favour.
import type { Page } from 'playwright-core';
import type { Tokenizer } from '../../src/tokenizer/tokenizer.ts';

interface Timings {
  prompt_n: number;
  prompt_per_second: number;
  predicted_n: number;
  predicted_per_second: number;
}

/** Loads the model into a wllama instance kept on the page for wllamaRound(). */
export async function wllamaSetup(page: Page, modelUrl: string, threads: number): Promise<{ threads: number }> {
  return page.evaluate(
    async (o) => {
      const wllamaUrl = '/wllama/index.js';
      const { Wllama } = await import(wllamaUrl);
      const wllama = new Wllama({ default: '/wllama/wasm/wllama.wasm' }, { suppressNativeLog: true });
      const blob = await (await fetch(o.modelUrl)).blob();
      await wllama.loadModel([blob], { n_ctx: 1024, n_threads: o.threads, n_gpu_layers: 0, flash_attn: false });
      (globalThis as { benchWllama?: unknown }).benchWllama = wllama;
      return { threads: wllama.getNumThreads() };
    },
    { modelUrl, threads },
  );
}

/**
 * Tokens whose bytes are not valid UTF-8 on their own: llama-spm's byte tokens <0x80>..<0xFF>, a
 * byte-level BPE vocabulary's (qwen2's) partial characters. Random-weight models emit them, and wllama
 * 3.8 fails to pass back a completion whose text is not valid UTF-8 ("Invalid typed array length");
 * text made only of the other tokens always is.
 */
export function partialUtf8Tokens(tokenizer: Tokenizer): number[] {
  const strict = new TextDecoder('utf-8', { fatal: true });
  const out: number[] = [];
  for (let id = 0; id < tokenizer.size; id++) {
    try {
      strict.decode(tokenizer.tokenToPiece(id));
    } catch {
      out.push(id);
    }
  }
  return out;
}

/** One completion: prompt processing and generation speed from llama-server's own timings. `banned`: partialUtf8Tokens(). */
export async function wllamaRound(
  page: Page,
  prompt: string,
  genTokens: number,
  banned: readonly number[],
): Promise<{ prefill: number; decode: number; promptTokens: number }> {
  const t = await page.evaluate(
    async (o) => {
      const wllama = (globalThis as { benchWllama?: { createCompletion(x: object): Promise<{ timings: unknown }> } }).benchWllama!;
      const logit_bias: Record<string, number> = {};
      for (const id of o.banned) logit_bias[id] = -100;
      const res = await wllama.createCompletion({
        prompt: o.prompt,
        max_tokens: o.genTokens + 1,
        temperature: 0,
        ignore_eos: true,
        cache_prompt: false,
        logit_bias,
      });
      return res.timings as Timings;
    },
    { prompt, genTokens, banned },
  );
  return { prefill: t.prompt_per_second, decode: t.predicted_per_second, promptTokens: t.prompt_n };
}

export async function wllamaTeardown(page: Page): Promise<void> {
  await page.evaluate(async () => (globalThis as { benchWllama?: { exit(): Promise<void> } }).benchWllama?.exit());
}
