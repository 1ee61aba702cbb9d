// Runs in headless Chromium (imported through Vite by webgpu-run.ts): loads the model with the
// WebGPU backend and the CLI's --split, runs the same command code as the ref/cpu path, and hands
// back either the result or the error's name, code and message (thrown errors lose their class
// crossing page.evaluate).
import { Engine } from '../../src/engine/engine.ts';
import { generateWith, logitsWith, type GenerateRequestArgs, type GenerateResult, type LogitsRequestArgs, type LogitsResult } from './commands.ts';

export type PageJob =
  | { readonly kind: 'generate'; readonly url: string; readonly split?: string; readonly args: GenerateRequestArgs; readonly stream: boolean }
  | { readonly kind: 'logits'; readonly url: string; readonly split?: string; readonly args: LogitsRequestArgs };

export type PageOutcome =
  | { readonly ok: true; readonly result: GenerateResult | LogitsResult; readonly adapter: string }
  | { readonly ok: false; readonly error: { readonly name: string; readonly code?: string; readonly message: string } };

/** Exposed by webgpu-run.ts when generated text should stream to the CLI's stdout. */
declare const cliText: ((text: string) => Promise<void>) | undefined;

export async function runPageJob(job: PageJob): Promise<PageOutcome> {
  try {
    const engine = await Engine.load(job.url, { backend: 'webgpu', split: job.split });
    try {
      const { sharedWebGpuBackend } = await import('../../src/engine/webgpu/index.ts');
      const info = (await sharedWebGpuBackend()).info;
      const adapter = info.description + (info.fallback ? ' (fallback adapter)' : '');
      const result =
        job.kind === 'logits'
          ? await logitsWith(engine, job.args)
          : await generateWith(engine, job.args, job.stream && typeof cliText === 'function' ? (t) => void cliText!(t) : undefined);
      return { ok: true, result, adapter };
    } finally {
      await engine.close();
    }
  } catch (e) {
    const err = e as { name?: string; code?: string; message?: string };
    return { ok: false, error: { name: err?.name ?? 'Error', code: typeof err?.code === 'string' ? err.code : undefined, message: err?.message ?? String(e) } };
  }
}
