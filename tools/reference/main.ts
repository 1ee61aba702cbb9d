// CLI: `npm run reference -- --model FILE|NAME --prompt TEXT [--top K] [--greedy N] [--context N]
// [--kv F32|F16] [--threads N] [--no-parse-special] [--no-cache]`. The JSON result is the last line on stdout.
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { disposeReferenceRuntime, referenceRun } from './reference.ts';
import type { KvCacheType } from './types.ts';

const usage =
  'usage: npm run reference -- --model FILE|NAME --prompt TEXT [--top K] [--greedy N] [--context N] [--kv F32|F16] [--threads N] [--no-parse-special] [--no-cache]';

/** A test-model name (from tools/models/registry.ts) becomes its generated file; a path stays a path. */
async function resolveModel(model: string): Promise<string> {
  if (existsSync(model)) return model;
  const registry = '../models/registry.ts';
  const { ensureModel } = (await import(registry)) as { ensureModel: (name: string) => Promise<string> };
  return ensureModel(model);
}

function int(value: string | undefined, name: string, fallback: number | undefined): number | undefined {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new Error(`--${name} wants an integer, got ${value}\n${usage}`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      prompt: { type: 'string' },
      top: { type: 'string' },
      greedy: { type: 'string' },
      context: { type: 'string' },
      threads: { type: 'string' },
      kv: { type: 'string' },
      'no-parse-special': { type: 'boolean' },
      'no-cache': { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help || !values.model || values.prompt === undefined) {
    console.error(usage);
    process.exitCode = values.help ? 0 : 2;
    return;
  }
  const started = performance.now();
  const result = await referenceRun({
    modelPath: await resolveModel(values.model),
    prompt: values.prompt,
    topK: int(values.top, 'top', 5),
    greedySteps: int(values.greedy, 'greedy', 0),
    contextSize: int(values.context, 'context', undefined),
    kvCacheType: (values.kv?.toUpperCase() ?? 'F32') as KvCacheType,
    threads: int(values.threads, 'threads', 1),
    parseSpecial: !values['no-parse-special'],
    noCache: values['no-cache'],
  });
  await disposeReferenceRuntime();
  console.error(
    `reference: ${result.promptTokens.length} prompt tokens, ${result.greedy.length} greedy steps in ${((performance.now() - started) / 1000).toFixed(2)} s`,
  );
  console.log(JSON.stringify(result));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  process.exitCode = 1;
});
