// Issue 10, item 1: mesh stages in the inference worker, on the GPU. The companion heads
// tiny-llama-4l-f32 across two server tabs whose budgets hold two of its four layers each: one
// opened with `&backend=webgpu` (SwiftShader's WebGPU here: slow, but correct), one with
// `&backend=wasm`. Each tab's stage runs in its worker on the backend it was asked for, says so in
// its own state and in its Join card, and gossips it with its held layers (a client tab's plan view
// shows both). A client tab's teacher-forced top-10 log-probs through the two stages match
// llama.cpp's within the engine's F32 tolerance. Runs in the test's own network namespace like
// mesh-pipeline.spec.ts (WebRTC between the tabs).
import { type TokenLogprob, worstLogprobGap } from './support/logprobs.ts';
import { expect, test, type Page } from '@playwright/test';
import { meshStackPerFile } from './support/mesh-stack.ts';
import { gotoApp } from './support/app.ts';
import { ensureModel } from '../tools/models/registry.ts';
import { disposeReferenceRuntime, referenceRun } from '../tools/reference/reference.ts';

const MODEL = 'tiny-llama-4l-f32';
/** Two of its ~197 KB layers per tab: neither tab can hold all four, so the plan splits 2 + 2. */
const BUDGET = 450_000;
/** The engine's log-prob tolerance against llama.cpp for F32 models. */
const TOLERANCE = 5e-3;

test.setTimeout(150_000);

const mesh = meshStackPerFile('mesh-gpu-stage', MODEL);
test.afterAll(() => disposeReferenceRuntime());

interface MeshState {
  status: string;
  peerId: string;
  backend: string;
  stage?: { status: string; layers?: { start: number; end: number }; backend?: string; backendDetail?: string; error?: string };
  plan?: { stages: { peerId: string; ready: boolean; backend?: string }[] };
}
const meshState = (page: Page) => page.evaluate(() => (window as unknown as { meshApp: { mesh: { state(): unknown } } }).meshApp.mesh.state() as MeshState);

test('a split across a WebGPU tab and a WASM tab runs each stage where it was asked, with llama.cpp’s log-probs', async () => {
  const started = Date.now();
  const invite = mesh.stack().printed.invite;
  const asked = ['webgpu', 'wasm'] as const;
  const tabs: Page[] = [];
  for (const backend of asked) {
    const page = await (await mesh.browser().newContext()).newPage();
    page.on('pageerror', (error) => console.error(`${backend} tab page error: ${error.message}`));
    await gotoApp(page, `${invite}&auto=1&role=server&budget=${BUDGET}&backend=${backend}`);
    tabs.push(page);
  }
  // Both ready, their ranges tiling the four layers.
  await expect
    .poll(
      async () => {
        const stages = (await Promise.all(tabs.map(meshState))).map((s) => s.stage);
        const failed = stages.find((s) => s?.status === 'failed');
        if (failed) return `failed: ${failed.error}`;
        if (!stages.every((s) => s?.status === 'ready' && s.layers)) return 'loading';
        return stages
          .map((s) => `${s!.layers!.start}-${s!.layers!.end}`)
          .sort()
          .join(',');
      },
      { timeout: 90_000, message: 'both tabs should each hold half of the model' },
    )
    .toBe('0-2,2-4');
  const readyMs = Date.now() - started;

  // Each tab runs where it was asked, in its worker, and says so.
  const states = await Promise.all(tabs.map(meshState));
  states.forEach((s, i) => {
    expect(s.stage!.backend).toBe(asked[i]);
    expect(s.backend).toBe(asked[i]);
    expect(s.stage!.backendDetail).toContain('in a worker');
  });
  expect(states[0].stage!.backendDetail).toMatch(/^WebGPU \(.*\) in a worker, f(16|32) KV cache$/);
  expect(states[1].stage!.backendDetail).toMatch(/^WebAssembly in a worker, \d+ threads?$/);
  await expect(tabs[0].getByTestId('mesh-backend')).toContainText('WebGPU');
  await expect(tabs[1].getByTestId('mesh-backend')).toContainText('WebAssembly');

  // A client tab hears each stage's backend in the peers' gossip, then probes the split.
  const ref = await referenceRun({ modelPath: await ensureModel(MODEL), prompt: 'Once upon a time', topK: 5 });
  const prober = await (await mesh.browser().newContext()).newPage();
  await gotoApp(prober, `${invite}&auto=1&role=client`);
  const byPeer = new Map(states.map((s, i) => [s.peerId, asked[i]]));
  await expect
    .poll(async () => ((await meshState(prober)).plan?.stages ?? []).map((s) => `${byPeer.get(s.peerId)}:${s.backend ?? '?'}`).join(','), {
      timeout: 30_000,
      message: 'the client should see each stage’s backend',
    })
    .toMatch(/^(webgpu:webgpu,wasm:wasm|wasm:wasm,webgpu:webgpu)$/);
  const probeStarted = Date.now();
  const positions = await prober.evaluate(
    (tokens) =>
      (window as unknown as { meshApp: { mesh: { teacherForced(t: number[], k: number): Promise<TokenLogprob[][]> } } }).meshApp.mesh.teacherForced(tokens, 10),
    ref.promptTokens,
  );
  const probeMs = Date.now() - probeStarted;
  expect(positions).toHaveLength(ref.promptTokens.length);
  const worst = worstLogprobGap(ref.positions, positions, "the mesh's top 10");
  expect(worst).toBeLessThan(TOLERANCE);
  console.log(
    `mesh-gpu-stage: ${MODEL} on ${states.map((s) => `${s.stage!.layers!.start}-${s.stage!.layers!.end - 1} ${s.stage!.backendDetail}`).join(' | ')}; ` +
      `tabs ready ${readyMs} ms after opening; teacher-forced log-probs within ${worst.toExponential(1)} of llama.cpp (${ref.promptTokens.length} positions in ${probeMs} ms)`,
  );
});
