// Command-line arguments of `npm run cli`: parsed and checked up front, so a typo is one clear
// line on stderr rather than a stack trace halfway through loading a model.
import { parseArgs } from 'node:util';
import { BACKENDS, isBackendName, type BackendName } from '../../src/engine/backend.ts';
import { MeshError } from '../../src/protocol/errors.ts';

export const USAGE = `usage:
  npm run cli -- generate --model FILE|URL|NAME --prompt TEXT --max-tokens N [--greedy] [--temperature T] [--seed S]
                          [--backend ref|cpu|webgpu] [--split a:b,b:c] [--json]
  npm run cli -- logits   --model FILE|URL|NAME --prompt TEXT --top K [--backend ref|cpu|webgpu] [--split a:b,b:c] [--json]
NAME is a generated test model (e.g. tiny-llama-f32); with --json the result is the last line on stdout.
--backend webgpu runs the engine in headless Chromium ($CHROMIUM_PATH, default /usr/bin/chromium).`;

export class CliError extends MeshError {
  constructor(message: string) {
    super('cli_bad_args', message);
    this.name = 'CliError';
  }
}

interface Common {
  readonly model: string;
  readonly prompt: string;
  readonly backend: BackendName;
  readonly split?: string;
  readonly json: boolean;
}

export interface GenerateArgs extends Common {
  readonly command: 'generate';
  readonly maxTokens: number;
  readonly greedy: boolean;
  readonly temperature?: number;
  readonly seed?: number;
}

export interface LogitsArgs extends Common {
  readonly command: 'logits';
  readonly top: number;
}

export type CliArgs = GenerateArgs | LogitsArgs | { readonly command: 'help' };

function integer(v: string | undefined, flag: string, min: number): number {
  if (v === undefined) throw new CliError(`${flag} is required`);
  const n = Number(v);
  if (!/^\s*\d+\s*$/.test(v) || !Number.isSafeInteger(n) || n < min) throw new CliError(`${flag} wants an integer >= ${min}, got "${v}"`);
  return n;
}

/** Node's own flag parsing, strict: an unknown flag is an error. */
const parseFlags = (argv: readonly string[]) =>
  parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      model: { type: 'string' },
      prompt: { type: 'string' },
      'max-tokens': { type: 'string' },
      greedy: { type: 'boolean' },
      temperature: { type: 'string' },
      seed: { type: 'string' },
      backend: { type: 'string' },
      split: { type: 'string' },
      top: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });

export function parseCli(argv: readonly string[]): CliArgs {
  let parsed: ReturnType<typeof parseFlags>;
  try {
    parsed = parseFlags(argv);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  const { values: v, positionals } = parsed;
  if (v.help) return { command: 'help' };
  const [command, ...extra] = positionals;
  if (command !== 'generate' && command !== 'logits') throw new CliError(command ? `unknown command "${command}"` : 'no command given');
  if (extra.length) throw new CliError(`unexpected argument "${extra[0]}"`);
  if (!v.model) throw new CliError('--model is required');
  if (v.prompt === undefined) throw new CliError('--prompt is required');
  const backend = v.backend ?? 'ref';
  if (!isBackendName(backend)) throw new CliError(`--backend must be one of ${BACKENDS.join(', ')}, got "${backend}"`);
  const common: Common = { model: v.model, prompt: v.prompt, backend, split: v.split, json: v.json ?? false };
  if (command === 'logits') {
    for (const f of ['max-tokens', 'greedy', 'temperature', 'seed'] as const)
      if (v[f] !== undefined) throw new CliError(`--${f} belongs to generate, not logits`);
    return { ...common, command, top: integer(v.top, '--top', 1) };
  }
  if (v.top !== undefined) throw new CliError('--top belongs to logits, not generate');
  let temperature: number | undefined;
  if (v.temperature !== undefined) {
    temperature = Number(v.temperature);
    if (v.temperature.trim() === '' || !Number.isFinite(temperature) || temperature < 0)
      throw new CliError(`--temperature wants a number >= 0, got "${v.temperature}"`);
    if (v.greedy) throw new CliError('--greedy and --temperature exclude each other');
  }
  return {
    ...common,
    command,
    maxTokens: integer(v['max-tokens'], '--max-tokens', 0),
    greedy: v.greedy ?? false,
    temperature,
    seed: v.seed === undefined ? undefined : integer(v.seed, '--seed', 0),
  };
}
