// The two CLI commands: `generate` and `logits`, each returning the JSON object the issue specifies
// (the caller prints it). ref and cpu run in this process; webgpu in headless Chromium (webgpu-run.ts).
import { existsSync } from 'node:fs';
import { Engine } from '../../src/engine/engine.ts';
import { EngineError } from '../../src/engine/errors.ts';
import type { GenerateArgs, LogitsArgs } from './args.ts';
import { generateWith, logitsWith, type GenerateResult, type LogitsResult } from './commands.ts';

export type { GenerateResult, LogitsResult } from './commands.ts';

/** A path, an http(s) URL, or the name of a generated test model (made on first use). */
export async function resolveModel(model: string): Promise<string> {
  if (/^https?:\/\//i.test(model) || existsSync(model)) return model;
  if (/^[a-z0-9][a-z0-9_.-]*$/i.test(model) && !model.endsWith('.gguf')) {
    const { MODELS, ensureModel } = await import('../models/registry.ts');
    if (MODELS.some((m) => m.name === model)) return ensureModel(model);
  }
  throw new EngineError('engine_model_unreadable', `model ${model} is neither an existing file, an http(s) URL, nor the name of a generated test model such as tiny-llama-f32`);
}

async function inProcess<T>(a: GenerateArgs | LogitsArgs, run: (engine: Engine) => Promise<T>): Promise<T> {
  const engine = await Engine.load(await resolveModel(a.model), { backend: a.backend, split: a.split });
  try {
    return await run(engine);
  } finally {
    await engine.close();
  }
}

export async function runGenerate(a: GenerateArgs, onText?: (text: string) => void): Promise<GenerateResult> {
  if (a.backend === 'webgpu') {
    const { runInChromium } = await import('./webgpu-run.ts');
    return runInChromium({ kind: 'generate', model: await resolveModel(a.model), split: a.split, args: a }, onText);
  }
  return inProcess(a, (engine) => generateWith(engine, a, onText));
}

export async function runLogits(a: LogitsArgs): Promise<LogitsResult> {
  if (a.backend === 'webgpu') {
    const { runInChromium } = await import('./webgpu-run.ts');
    return runInChromium({ kind: 'logits', model: await resolveModel(a.model), split: a.split, args: a });
  }
  return inProcess(a, (engine) => logitsWith(engine, a));
}
