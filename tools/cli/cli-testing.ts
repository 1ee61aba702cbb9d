// Runs `tools/cli/main.ts` as a child process for the CLI tests, as a script would.
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { expect } from 'vitest';
import { createStaticHandler } from '../../src/companion/static-server.ts';
import type { LogitsResult } from './run.ts';

export const root = join(import.meta.dirname, '..', '..');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function cliWithEnv(env: Record<string, string>, ...args: string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(root, 'tools/cli/main.ts'), ...args],
      { cwd: root, maxBuffer: 64 << 20, env: { ...process.env, ...env } },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

export function cli(...args: string[]): Promise<CliRun> {
  return cliWithEnv({}, ...args);
}

/** Runs with --json, expects success, and parses the last stdout line. */
export async function cliJson<T>(...args: string[]): Promise<T> {
  const r = await cli(...args, '--json');
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as T;
}

/** The folder of `modelPath` served at `baseUrl` over HTTP (as a model hub would: ranges, ETag), with a log of its requests. */
export interface ModelServer {
  readonly baseUrl: string;
  readonly requests: { method?: string; range?: string }[];
  close(): Promise<void>;
}

export async function startModelServer(modelPath: string): Promise<ModelServer> {
  const handler = createStaticHandler([{ prefix: '/models/', dir: dirname(modelPath) }]);
  const requests: { method?: string; range?: string }[] = [];
  const server = createServer((req, res) => {
    requests.push({ method: req.method, range: req.headers.range });
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/models/`,
    requests,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

export const PROMPT = 'The quick brown fox jumps over the lazy dog. Once upon a time';
/** The bar for F32 weights. */
export const TOLERANCE = 5e-3;
/** Below this top-1/top-2 margin llama.cpp's own greedy choice is a near-tie. */
export const CLEAR_MARGIN = 0.05;

/** What `logits` must match: llama.cpp's teacher-forced top-K (tools/reference/). */
export interface LlamaLogits {
  readonly promptTokens: readonly number[];
  readonly positions: readonly (readonly { id: number; logprob: number }[])[];
}

/**
 * Every llama.cpp top token is in our top `k` within TOLERANCE of llama.cpp's log-prob, and our
 * argmax is llama.cpp's wherever its top-1 leads clearly.
 */
export function expectNearLlama(ours: LogitsResult, ref: LlamaLogits, k: number): void {
  expect(ours.prompt_tokens).toEqual(ref.promptTokens);
  expect(ours.positions.length).toBe(ref.positions.length);
  let worst = 0;
  ref.positions.forEach((top, i) => {
    const got = new Map(ours.positions[i].map((t) => [t.id, t.logprob]));
    expect(ours.positions[i].length).toBe(k);
    for (const t of top) {
      expect(got.has(t.id), `position ${i}: llama.cpp's token ${t.id} missing from our top ${k}`).toBe(true);
      worst = Math.max(worst, Math.abs(got.get(t.id)! - t.logprob));
    }
    if (top[0].logprob - top[1].logprob > CLEAR_MARGIN) expect(ours.positions[i][0].id, `position ${i}`).toBe(top[0].id);
  });
  expect(worst).toBeLessThan(TOLERANCE);
}
