// Native llama.cpp (node-llama-cpp's prebuilt CPU build) on the same model, prompt and thread count:
// the physical bar for a CPU engine. Prefill: one batched evaluation of the prompt; decode: greedy
// steps one token at a time. Set up once, then measured round by round between the other engines.
import type { Token } from 'node-llama-cpp';
import { LlamaRuntime } from '../reference/llama-runtime.ts';

export interface NativeBench {
  round(): Promise<{ prefill: number; decode: number }>;
  dispose(): Promise<void>;
}

export async function nativeSetup(runtime: LlamaRuntime, modelPath: string, promptTokens: number[], genTokens: number, threads: number): Promise<NativeBench> {
  const model = await runtime.model(modelPath);
  const context = await model.createContext({
    contextSize: 1024, sequences: 1, threads: { ideal: threads, min: threads }, flashAttention: false, batchSize: 512,
  });
  const sequence = context.getSequence();
  return {
    async round() {
      await sequence.clearHistory();
      const t0 = performance.now();
      await sequence.evaluateWithoutGeneratingNewTokens(promptTokens.slice(0, -1) as Token[]);
      const prefill = (promptTokens.length - 1) / ((performance.now() - t0) / 1000);
      // The last prompt token starts generation; time the steps after the first sampled token.
      let n = 0, first = 0, last = 0;
      for await (const _ of sequence.evaluate([promptTokens.at(-1)! as Token], { temperature: 0 })) {
        if (n++ === 0) first = performance.now();
        last = performance.now();
        if (n > genTokens) break;
      }
      return { prefill, decode: (n - 1) / ((last - first) / 1000) };
    },
    dispose: () => context.dispose(),
  };
}
