// `npm run cli` end to end, as child processes, against llama.cpp (tools/reference/): teacher-forced
// top-K log-probs whole and split, greedy continuations, a model served over HTTP with Range
// requests, and the errors a script can run into.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../models/registry.ts';
import { disposeReferenceRuntime, referenceRun } from '../reference/reference.ts';
import { CLEAR_MARGIN, cli, cliJson as json, cliWithEnv, expectNearLlama, PROMPT, startModelServer, type ModelServer } from './cli-testing.ts';
import type { GenerateResult, LogitsResult } from './run.ts';

/** webgpu is cli-webgpu.test.ts (it runs in headless Chromium). */
const BACKENDS = ['ref', 'cpu'];

let model: string;
let server: ModelServer;
let baseUrl: string;
let requests: ModelServer['requests'];

beforeAll(async () => {
  model = await ensureModel('tiny-llama-f32');
  server = await startModelServer(model);
  ({ baseUrl, requests } = server);
});

afterAll(async () => {
  await server?.close();
  await disposeReferenceRuntime();
});

describe('cli logits', () => {
  for (const backend of BACKENDS) {
    it(`--backend ${backend}: matches llama.cpp top-5 log-probs within 5e-3, whole and split into two stages identically`, async () => {
      const ref = await referenceRun({ modelPath: model, prompt: PROMPT, topK: 5 });
      const args = ['logits', '--model', model, '--prompt', PROMPT, '--top', '10', '--backend', backend];
      const whole = await json<LogitsResult>(...args);
      expectNearLlama(whole, ref, 10);
      const split = await json<LogitsResult>(...args, '--split', '0:1,1:2');
      expect(split).toEqual(whole);
    });
  }

  it('reads a model over HTTP with Range requests and gives the same result as the file', async () => {
    const url = baseUrl + basename(model);
    requests.length = 0;
    const viaUrl = await json<LogitsResult>('logits', '--model', url, '--prompt', 'Hello there', '--top', '3');
    const viaFile = await json<LogitsResult>('logits', '--model', model, '--prompt', 'Hello there', '--top', '3');
    expect(viaUrl).toEqual(viaFile);
    const gets = requests.filter((r) => r.method === 'GET');
    expect(gets.length).toBeGreaterThan(1);
    expect(gets.every((r) => r.range?.startsWith('bytes='))).toBe(true);
  });
});

describe('cli generate', () => {
  it('--greedy follows llama.cpp greedy continuation up to its first near-tie, whole and split, on every backend', async () => {
    const steps = 12;
    const ref = await referenceRun({ modelPath: model, prompt: PROMPT, topK: 2, greedySteps: steps });
    const clear = ref.greedy.findIndex((s) => s.margin < CLEAR_MARGIN);
    const n = clear < 0 ? steps : clear; // steps before llama.cpp's first near-tie
    expect(n, 'too few clear steps to compare: pick another prompt').toBeGreaterThan(3);
    const want = ref.greedy.map((s) => s.token);
    for (const extra of [...BACKENDS.map((b) => ['--backend', b]), ['--split', '0:1,1:2']]) {
      const out = await json<GenerateResult>('generate', '--model', model, '--prompt', PROMPT, '--max-tokens', String(steps), '--greedy', ...extra);
      expect(out.prompt_tokens).toEqual(ref.promptTokens);
      expect(out.tokens.length).toBe(steps);
      expect(out.tokens.slice(0, n)).toEqual(want.slice(0, n));
      // At the near-tie itself either of llama.cpp's top two is a correct pick.
      if (clear >= 0) expect(ref.greedy[clear].top.map((t) => t.id)).toContain(out.tokens[clear]);
      expect(typeof out.text).toBe('string');
      expect(out.text.length).toBeGreaterThan(0);
    }
  });

  it('seeded sampling repeats; without --json the text goes to stdout', async () => {
    const args = ['generate', '--model', 'tiny-llama-f32', '--prompt', 'Hi', '--max-tokens', '6', '--seed', '9'];
    const a = await json<GenerateResult>(...args),
      b = await json<GenerateResult>(...args);
    expect(a).toEqual(b);
    const plain = await cli(...args);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toBe(a.text);
  });
});

describe('cli errors', () => {
  it('exit code 1 and one clear line on stderr', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-test-'));
    writeFileSync(join(dir, 'junk.gguf'), 'not a gguf file, '.repeat(8));
    const cases: [string[], RegExp][] = [
      [['generate', '--model', model, '--prompt', 'x'], /--max-tokens is required/],
      [['logits', '--model', model, '--prompt', 'x', '--top', 'many'], /--top wants an integer >= 1, got "many"/],
      [['frobnicate', '--model', model], /unknown command "frobnicate"/],
      [['logits', '--model', model, '--prompt', 'x', '--top', '2', '--backend', 'tpu'], /--backend must be one of ref, cpu, webgpu/],
      [['logits', '--model', '/nope/missing.gguf', '--prompt', 'x', '--top', '2'], /neither an existing file/],
      [['logits', '--model', join(dir, 'junk.gguf'), '--prompt', 'x', '--top', '2'], /magic/i],
      [['logits', '--model', model, '--prompt', 'x', '--top', '2', '--split', '0:1,1:3'], /layer ranges end at 3, but the model has 2 layers/],
      [['logits', '--model', `${baseUrl}absent.gguf`, '--prompt', 'x', '--top', '2'], /HTTP 404/],
    ];
    for (const [args, message] of cases) {
      const r = await cli(...args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toMatch(message);
      expect(r.stdout).toBe('');
    }
    const noChromium = await cliWithEnv(
      { CHROMIUM_PATH: join(dir, 'no-chromium') },
      'logits',
      '--model',
      model,
      '--prompt',
      'x',
      '--top',
      '2',
      '--backend',
      'webgpu',
    );
    expect(noChromium.code).toBe(1);
    expect(noChromium.stderr).toMatch(/--backend webgpu runs in headless Chromium, but there is none at .*no-chromium/);
  });
});
