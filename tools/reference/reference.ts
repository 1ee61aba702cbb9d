// The llama.cpp reference: for a GGUF and a raw prompt, the teacher-forced top-K log-probabilities
// after every prompt position and a greedy continuation with its margins. Ground truth for parity tests.
import { existsSync } from 'node:fs';
import { ReferenceHarnessError } from './errors.ts';
import { cacheKey, readCached, writeCached } from './cache.ts';
import { evaluateReference, tokenizePrompt, type EvaluateSettings } from './evaluate.ts';
import { LlamaRuntime, nodeLlamaCppVersion, VARIANTS_LEFT_OUT } from './llama-runtime.ts';
import type { ReferenceOptions, ReferenceResult } from './types.ts';

export type { GreedyStep, ReferenceOptions, ReferenceResult, TokenLogprob } from './types.ts';
export { LlamaRuntime } from './llama-runtime.ts';

function settingsOf(o: ReferenceOptions): EvaluateSettings {
  const topK = o.topK ?? 5;
  const greedySteps = o.greedySteps ?? 0;
  if (!Number.isInteger(topK) || topK < 1) throw new ReferenceHarnessError('reference_bad_options', `topK must be a positive integer, got ${topK}`);
  if (!Number.isInteger(greedySteps) || greedySteps < 0)
    throw new ReferenceHarnessError('reference_bad_options', `greedySteps must be a non-negative integer, got ${greedySteps}`);
  if (o.contextSize !== undefined && (!Number.isInteger(o.contextSize) || o.contextSize < 1)) {
    throw new ReferenceHarnessError('reference_bad_options', `contextSize must be a positive integer, got ${o.contextSize}`);
  }
  const kvCacheType = o.kvCacheType ?? 'F32';
  if (kvCacheType !== 'F32' && kvCacheType !== 'F16')
    throw new ReferenceHarnessError('reference_bad_options', `kvCacheType must be F32 or F16, got ${String(kvCacheType)}`);
  const threads = o.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1) throw new ReferenceHarnessError('reference_bad_options', `threads must be a positive integer, got ${threads}`);
  return { topK, greedySteps, contextSize: o.contextSize, kvCacheType, parseSpecial: o.parseSpecial ?? true, threads };
}

// One runtime per process, made on first use: loading llama.cpp costs ~0.4 s and models stay mapped.
let shared: LlamaRuntime | undefined;

/** Runs (or reads from .cache/reference/) the reference for one model and prompt. */
export async function referenceRun(options: ReferenceOptions, runtime?: LlamaRuntime): Promise<ReferenceResult> {
  const settings = settingsOf(options);
  const rt = runtime ?? (shared ??= new LlamaRuntime());
  const version = nodeLlamaCppVersion();
  const key = existsSync(options.modelPath)
    ? cacheKey(options.modelPath, {
        prompt: options.prompt,
        ...settings,
        contextSize: settings.contextSize ?? null,
        version,
        variantsLeftOut: VARIANTS_LEFT_OUT,
      })
    : undefined;
  if (key && !options.noCache) {
    const hit = readCached(key);
    if (hit) return hit; // no llama.cpp load at all on a hit
  }
  const model = await rt.model(options.modelPath); // says clearly when the file is missing
  const result = await evaluateReference(model, options.prompt, settings, version);
  if (key) writeCached(key, result);
  return result;
}

/**
 * The prompt's text up to each of its tokens: prefixes[i] is the longest start of `prompt` that
 * tokenizes as the reference does (BOS rule, special tokens parsed) to promptTokens[0..i]. For an engine
 * that takes only text (wllama), scored one position at a time; a prompt without such starts is refused.
 */
export async function promptPrefixes(modelPath: string, prompt: string, promptTokens: readonly number[], runtime?: LlamaRuntime): Promise<string[]> {
  const model = await (runtime ?? (shared ??= new LlamaRuntime())).model(modelPath);
  const prefixes: (string | undefined)[] = promptTokens.map(() => undefined);
  for (let cut = 0; cut <= prompt.length; cut++) {
    const text = prompt.slice(0, cut);
    const got = tokenizePrompt(model, text, true);
    if (got.length > 0 && got.length <= promptTokens.length && got.every((t, j) => t === promptTokens[j])) prefixes[got.length - 1] = text;
  }
  const missing = prefixes.indexOf(undefined);
  if (missing >= 0) {
    throw new ReferenceHarnessError(
      'reference_bad_options',
      `no start of ${JSON.stringify(prompt)} tokenizes to its first ${missing + 1} tokens: pick a prompt whose tokens each end where a start of its text does`,
    );
  }
  return prefixes as string[];
}

/** Frees the shared runtime (models and llama.cpp) so a CLI or test process can exit promptly. */
export async function disposeReferenceRuntime(): Promise<void> {
  const rt = shared;
  shared = undefined;
  await rt?.dispose();
}
