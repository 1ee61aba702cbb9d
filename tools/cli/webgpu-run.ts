// `--backend webgpu` from Node: Node has no WebGPU, so the CLI starts Debian's Chromium headless
// (playwright-core, the flags of playwright/support/browser.ts, --enable-unsafe-webgpu among them),
// serves it the engine and the model (webgpu-server.ts), runs the command in the page
// (webgpu-page.ts) and returns the same JSON object as the in-process backends.
import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { chromiumLaunchOptions, chromiumPath } from '../../playwright/support/browser.ts';
import { EngineError } from '../../src/engine/errors.ts';
import { MeshError } from '../../src/protocol/errors.ts';
import type { GenerateRequestArgs, GenerateResult, LogitsRequestArgs, LogitsResult } from './commands.ts';
import type { PageJob, PageOutcome } from './webgpu-page.ts';
import { MODEL_PATH, PAGE_PATH, startCliWebGpuServer } from './webgpu-server.ts';

interface Job<K, A> {
  readonly kind: K;
  /** A local path or an http(s) URL (already resolved). */
  readonly model: string;
  readonly split?: string;
  readonly args: A;
}

export function runInChromium(job: Job<'generate', GenerateRequestArgs>, onText?: (text: string) => void): Promise<GenerateResult>;
export function runInChromium(job: Job<'logits', LogitsRequestArgs>): Promise<LogitsResult>;
export async function runInChromium(
  job: Job<'generate', GenerateRequestArgs> | Job<'logits', LogitsRequestArgs>,
  onText?: (text: string) => void,
): Promise<GenerateResult | LogitsResult> {
  if (!existsSync(chromiumPath)) {
    throw new EngineError(
      'engine_backend_unavailable',
      `--backend webgpu runs in headless Chromium, but there is none at ${chromiumPath}: install Debian's chromium package (apt-get install chromium) or set CHROMIUM_PATH`,
    );
  }
  const { chromium } = await import('playwright-core');
  const server = await startCliWebGpuServer(job.model);
  let browser: Browser | undefined;
  try {
    try {
      browser = await chromium.launch(chromiumLaunchOptions());
    } catch (e) {
      throw new EngineError(
        'engine_backend_unavailable',
        `--backend webgpu could not start headless Chromium at ${chromiumPath}: ${(e as Error).message.split('\n')[0]}`,
        { cause: e },
      );
    }
    const page = await browser.newPage();
    if (onText) await page.exposeFunction('cliText', (t: string) => onText(t));
    await page.goto(server.base + PAGE_PATH);
    const url = server.base + MODEL_PATH;
    const pageJob: PageJob =
      job.kind === 'generate'
        ? {
            kind: 'generate',
            url,
            split: job.split,
            stream: onText !== undefined,
            args: pick(job.args, ['prompt', 'maxTokens', 'greedy', 'temperature', 'seed']),
          }
        : { kind: 'logits', url, split: job.split, args: pick(job.args, ['prompt', 'top']) };
    const outcome: PageOutcome = await page.evaluate(async (j) => {
      const { runPageJob } = await import('/tools/cli/webgpu-page.ts' as string);
      return runPageJob(j);
    }, pageJob);
    if (!outcome.ok) {
      // The page only knows the model as the local server's URL: name it as the user gave it.
      let message = outcome.error.message.split(url).join(job.model);
      if (outcome.error.code === 'engine_backend_unavailable') message = `headless Chromium (${chromiumPath}) has no WebGPU adapter: ${message}`;
      throw Object.assign(new MeshError(outcome.error.code ?? 'engine_webgpu_page', message), { name: outcome.error.name });
    }
    console.error(`cli: WebGPU adapter ${outcome.adapter}`);
    return outcome.result;
  } finally {
    await browser?.close();
    await server.close();
  }
}

/** Only the named fields, without undefined ones: page.evaluate copies plain data. */
function pick<T extends object, K extends keyof T>(o: T, keys: readonly K[]): Pick<T, K> {
  const out = {} as Pick<T, K>;
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
