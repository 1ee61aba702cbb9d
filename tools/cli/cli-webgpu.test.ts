// `npm run cli -- … --backend webgpu` as a child process: the CLI runs the engine in headless
// Chromium (SwiftShader here) and must print what the in-process backends print: logits within
// 5e-3 of llama.cpp whole and split, greedy tokens equal to the cpu backend's, a URL model proxied
// with its Range requests, and clear errors: the model's URL (not the local proxy's), no adapter.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumPath } from '../../playwright/support/browser.ts';
import { ensureModel } from '../models/registry.ts';
import { disposeReferenceRuntime, referenceRun } from '../reference/reference.ts';
import { cli, cliJson, cliWithEnv, expectNearLlama, PROMPT, startModelServer, type ModelServer } from './cli-testing.ts';
import type { GenerateResult, LogitsResult } from './run.ts';

/** What webgpu's greedy tokens must equal: the WASM backend's. */
const CPU = 'cpu';

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

describe('cli --backend webgpu (headless Chromium)', () => {
  it('logits match llama.cpp top-5 log-probs within 5e-3, whole and split 0:1,1:2', async () => {
    const ref = await referenceRun({ modelPath: model, prompt: PROMPT, topK: 5 });
    const args = ['logits', '--model', model, '--prompt', PROMPT, '--top', '10', '--backend', 'webgpu'];
    const run = await cli(...args, '--json');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr, 'the engine ran on a WebGPU adapter').toMatch(/WebGPU adapter \S/);
    const whole = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as LogitsResult;
    const split = await cliJson<LogitsResult>(...args, '--split', '0:1,1:2');
    expectNearLlama(whole, ref, 10);
    expectNearLlama(split, ref, 10);
  });

  it(`generate --greedy gives the ${CPU} backend's tokens, the model read from a URL with Range requests`, async () => {
    const args = ['generate', '--prompt', PROMPT, '--max-tokens', '8', '--greedy'];
    const want = await cliJson<GenerateResult>(...args, '--model', model, '--backend', CPU);
    requests.length = 0;
    const got = await cliJson<GenerateResult>(...args, '--model', baseUrl + basename(model), '--backend', 'webgpu');
    expect(got).toEqual(want);
    const gets = requests.filter((r) => r.method === 'GET');
    expect(gets.length).toBeGreaterThan(1);
    expect(gets.every((r) => r.range?.startsWith('bytes='))).toBe(true);
  });

  it('an unreachable model is one clear line naming the URL given', async () => {
    const r = await cli('logits', '--model', `${baseUrl}absent.gguf`, '--prompt', 'x', '--top', '2', '--backend', 'webgpu');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`${baseUrl}absent\\.gguf: HTTP 404`));
    expect(r.stdout).toBe('');
  });

  it('a Chromium without a WebGPU adapter is one clear line', async () => {
    // Debian's launcher script with WebGPU and every GPU path switched off after the CLI's own flags.
    const wrapper = join(mkdtempSync(join(tmpdir(), 'cli-webgpu-')), 'chromium');
    writeFileSync(wrapper, `#!/bin/sh\nexec ${chromiumPath} "$@" --disable-features=WebGPU,Vulkan --disable-gpu --disable-software-rasterizer\n`, {
      mode: 0o755,
    });
    const r = await cliWithEnv({ CHROMIUM_PATH: wrapper }, 'logits', '--model', model, '--prompt', 'x', '--top', '2', '--backend', 'webgpu');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/headless Chromium \(.*chromium\) has no WebGPU adapter: .*no GPU adapter was found/);
    expect(r.stdout).toBe('');
  });
});
