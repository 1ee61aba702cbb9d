// The two CLI commands over the engine facade: `generate` and `logits`, each returning the JSON
// object the issue specifies (the caller prints it).
import { existsSync } from 'node:fs';
import { Engine } from '../../src/engine/engine.ts';
import type { SamplingOptions } from '../../src/engine/sampler.ts';
import { EngineError } from '../../src/engine/errors.ts';
import type { GenerateArgs, LogitsArgs } from './args.ts';

export interface GenerateResult {
  prompt_tokens: number[];
  tokens: number[];
  text: string;
}

export interface LogitsResult {
  prompt_tokens: number[];
  positions: { id: number; logprob: number }[][];
}

/** llama.cpp's default sampling chain settings, for runs that ask for neither --greedy nor --temperature. */
const DEFAULT_SAMPLING: SamplingOptions = { temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05 };

/** A path, an http(s) URL, or the name of a generated test model (made on first use). */
export async function resolveModel(model: string): Promise<string> {
  if (/^https?:\/\//i.test(model) || existsSync(model)) return model;
  if (/^[a-z0-9][a-z0-9_.-]*$/i.test(model) && !model.endsWith('.gguf')) {
    const { MODELS, ensureModel } = await import('../models/registry.ts');
    if (MODELS.some((m) => m.name === model)) return ensureModel(model);
  }
  throw new EngineError('engine_model_unreadable', `model ${model} is neither an existing file, an http(s) URL, nor the name of a generated test model such as tiny-llama-f32`);
}

async function open(a: GenerateArgs | LogitsArgs): Promise<Engine> {
  return Engine.load(await resolveModel(a.model), { backend: a.backend, split: a.split });
}

export async function runGenerate(a: GenerateArgs, onText?: (text: string) => void): Promise<GenerateResult> {
  const engine = await open(a);
  try {
    const promptTokens = engine.tokenize(a.prompt);
    const sampling: SamplingOptions = a.greedy ? { temperature: 0 }
      : { ...DEFAULT_SAMPLING, ...(a.temperature !== undefined ? { temperature: a.temperature } : {}), seed: a.seed };
    const tokens: number[] = [];
    let text = '';
    for await (const ev of engine.generate({ promptTokens, maxTokens: a.maxTokens, sampling })) {
      if (ev.type === 'token') tokens.push(ev.token);
      text += ev.text;
      onText?.(ev.text);
    }
    return { prompt_tokens: promptTokens, tokens, text };
  } finally {
    await engine.close();
  }
}

export async function runLogits(a: LogitsArgs): Promise<LogitsResult> {
  const engine = await open(a);
  try {
    const promptTokens = engine.tokenize(a.prompt);
    const positions = await engine.logits(promptTokens, a.top);
    return { prompt_tokens: promptTokens, positions: positions.map((p) => p.map(({ id, logprob }) => ({ id, logprob }))) };
  } finally {
    await engine.close();
  }
}
