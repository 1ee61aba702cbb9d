// The two CLI commands: `generate` and `logits`, each returning the JSON object the issue specifies
// (the caller prints it). ref and cpu run in this process; webgpu in headless Chromium (webgpu-run.ts).
import { existsSync } from 'node:fs';
import { Engine } from '../../src/engine/engine.ts';
import { EngineError } from '../../src/engine/errors.ts';
import type { GenerateArgs, LogitsArgs } from './args.ts';
import { generateWith, logitsWith, type GenerateResult, type GenerateTiming, type LogitsResult } from './commands.ts';

export type { GenerateResult, LogitsResult } from './commands.ts';

/** A path, an http(s) URL, or the name of a generated test model (made on first use). */
export async function resolveModel(model: string): Promise<string> {
  if (/^https?:\/\//i.test(model) || existsSync(model)) return model;
  if (/^[a-z0-9][a-z0-9_.-]*$/i.test(model) && !model.endsWith('.gguf')) {
    const { MODELS, ensureModel } = await import('../models/registry.ts');
    if (MODELS.some((m) => m.name === model)) return ensureModel(model);
  }
  throw new EngineError(
    'engine_model_unreadable',
    `model ${model} is neither an existing file, an http(s) URL, nor the name of a generated test model such as tiny-llama-f32`,
  );
}

async function inProcess<T>(a: GenerateArgs | LogitsArgs, run: (engine: Engine, loadMs: number) => Promise<T>): Promise<T> {
  const path = await resolveModel(a.model);
  const started = performance.now();
  const engine = await Engine.load(path, { backend: a.backend, split: a.split });
  try {
    return await run(engine, Math.round(performance.now() - started));
  } finally {
    await engine.close();
  }
}

/** `timing` (ref and cpu only) is filled with the load, prefill and decode figures. */
export async function runGenerate(a: GenerateArgs, onText?: (text: string) => void, timing?: GenerateTiming & { loadMs: number }): Promise<GenerateResult> {
  if (a.backend === 'webgpu') {
    const { runInChromium } = await import('./webgpu-run.ts');
    return runInChromium({ kind: 'generate', model: await resolveModel(a.model), split: a.split, args: a }, onText);
  }
  return inProcess(a, (engine, loadMs) => {
    if (timing) timing.loadMs = loadMs;
    return generateWith(engine, a, onText, timing);
  });
}

export async function runLogits(a: LogitsArgs): Promise<LogitsResult> {
  if (a.backend === 'webgpu') {
    const { runInChromium } = await import('./webgpu-run.ts');
    return runInChromium({ kind: 'logits', model: await resolveModel(a.model), split: a.split, args: a });
  }
  return inProcess(a, (engine) => logitsWith(engine, a));
}
