// No false alarms: an honest mesh (the trained kjv-llama-3m-q8_0, a quantized model with real
// weights, split across two WASM server peers; the head checks on WASM too) answers over a thousand
// checked tokens, in chain and star topology, streamed and not, every answer one machine's, with no
// mismatch and nobody quarantined. A stage that leaves mid-answer is a failover, not a failed check:
// the answer goes on, and the check counters stay at zero.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../../../tools/models/registry.ts';
import { createApiContext } from '../../api/context.ts';
import { handleApiRequest } from '../../api/handler.ts';
import { post, sseFrames } from '../../api/testing/requests.ts';
import { computeFor } from '../../engine/backend.ts';
import { Engine } from '../../engine/engine.ts';
import { fileSource } from '../../engine/file-source.ts';
import type { ComputeOptions } from '../../engine/model.ts';
import { openModel } from '../../engine/model.ts';
import { openStage } from '../../engine/stage.ts';
import { EngineProvider } from '../../provider/engine-provider.ts';
import type { PeerNode } from '../net/peer-node.ts';
import type { PipelineCoordinator } from './coordinator.ts';
import { headProviderFor } from './mesh-provider.ts';
import { StageChecker } from './stage-check.ts';
import { budgetFor, routeOf, startCoordinator, startServerPeer, startTestMesh, until, type TestMesh } from '../testing/test-mesh.ts';

const MODEL = 'kjv-llama-3m-q8_0';
const PROMPTS = ['In the beginning', 'And the LORD said unto Moses', 'Blessed are the', 'The LORD is my shepherd', 'And it came to pass', 'For God so loved'];
let path: string;
let engine: Engine;
let solo: EngineProvider;
let mesh: TestMesh;
let coordinator: PipelineCoordinator;
let checker: StageChecker;
const peers: PeerNode[] = [];

beforeAll(async () => {
  path = await ensureModel(MODEL);
  engine = await Engine.load(path, { backend: 'cpu' });
  solo = new EngineProvider([{ id: MODEL, engine }]);
  mesh = await startTestMesh();
  coordinator = startCoordinator(mesh, MODEL, engine.model);
  const open = async () => openModel(await fileSource(path));
  for (let i = 0; i < 2; i++) peers.push(await startServerPeer(mesh, open, budgetFor(engine.model, 2)));
  await routeOf(coordinator, 2);
  let kernels: Promise<ComputeOptions> | undefined;
  checker = new StageChecker({
    openRange: async (first, end) => openStage(engine.model, first, end, await (kernels ??= computeFor('cpu'))),
    probe: () => engine.headAndTail.head.embed(Array.from({ length: 32 }, (_, i) => (i * 7919 + 13) % engine.model.config.nVocab)),
    width: engine.model.config.nEmbd,
    backend: 'wasm',
  });
}, 120_000);

afterAll(async () => {
  coordinator?.stop();
  for (const p of peers) await p.stop().catch(() => {});
  await mesh?.stop();
});

const body = (prompt: string, max = 120) => ({ model: MODEL, prompt, max_tokens: max, temperature: 0 });

/** One machine's answer: a fresh engine provider each time, so no cached prefix changes its batch shapes. */
const alone = (b: object) => completion(createApiContext({ provider: new EngineProvider([{ id: MODEL, engine }]) }), b, false);

async function completion(ctx: ReturnType<typeof createApiContext>, b: object, stream: boolean): Promise<{ text: string; tokens: number; servedBy: string }> {
  const res = await handleApiRequest(post('/v1/completions', stream ? { ...b, stream: true, stream_options: { include_usage: true } } : b), ctx);
  expect(res.status).toBe(200);
  const servedBy = res.headers.get('x-mesh-served-by') ?? '';
  if (!stream) {
    const json = await res.json();
    return { text: json.choices[0].text, tokens: json.usage.completion_tokens, servedBy };
  }
  let text = '';
  let tokens = 0;
  for await (const f of sseFrames(res)) {
    if (f.data === '[DONE]') break;
    const chunk = JSON.parse(f.data);
    expect(chunk.error).toBeUndefined();
    text += chunk.choices[0]?.text ?? '';
    tokens = chunk.usage?.completion_tokens ?? tokens;
  }
  return { text, tokens, servedBy };
}

describe('an honest mesh under stage checks', () => {
  it('answers over 1000 checked tokens as one machine does, with no false alarm', async () => {
    let tokens = 0;
    const started = performance.now();
    for (let i = 0; tokens < 1000; i++) {
      const topology = i % 3 === 2 ? 'star' : 'chain';
      const provider = await headProviderFor(engine, { node: mesh.companion.node, coordinator, fallback: solo, topology, checker });
      const ctx = createApiContext({ provider });
      const b = body(`${PROMPTS[i % PROMPTS.length]}${' and'.repeat(Math.floor(i / PROMPTS.length))}`);
      const got = await completion(ctx, b, i % 2 === 1);
      const want = await alone(b);
      expect(got.text).toBe(want.text);
      expect(got.servedBy).toMatch(/;layers=0-\d, .*;layers=\d-3$/); // two peers, not the head alone
      tokens += got.tokens;
    }
    const s = checker.status();
    expect(s).toMatchObject({ mode: 'checked', mismatches: 0, refused: 0, quarantined: [] });
    expect(s.rowsChecked).toBeGreaterThanOrEqual(tokens);
    console.log(
      `stage-check-honest: ${tokens} tokens, ${s.checks} checks over ${s.rowsChecked} rows, false_alarms=${s.mismatches} in ${Math.round(performance.now() - started)} ms`,
    );
  }, 300_000);

  it('checks speculative verification batches and their rollbacks without a false alarm', async () => {
    const provider = await headProviderFor(engine, { node: mesh.companion.node, coordinator, fallback: solo, checker, speculative: { drafter: 'ngram' } });
    const ctx = createApiContext({ provider });
    const b = body('And the LORD said unto Moses, And the LORD said unto Moses, And the LORD said', 150);
    const res = await handleApiRequest(post('/v1/completions', b), ctx);
    const json = await res.json();
    expect(json.choices[0].text).toBe((await alone(b)).text);
    expect(json.usage.speculative.drafted).toBeGreaterThan(0);
    expect(checker.status()).toMatchObject({ mismatches: 0, refused: 0, quarantined: [] });
  }, 120_000);

  it('counts a stage that leaves mid-answer as a failover, not a failed check', async () => {
    const spare = await startServerPeer(mesh, async () => openModel(await fileSource(path)), budgetFor(engine.model, 2));
    peers.push(spare);
    const recovered: string[] = [];
    const provider = await headProviderFor(engine, {
      node: mesh.companion.node,
      coordinator,
      fallback: solo,
      checker,
      localStages: engine.stages,
      onRecovered: ({ failed }) => recovered.push(failed),
    });
    const ctx = createApiContext({ provider });
    const plan = coordinator.route()!.plan;
    const victim = peers.find((p) => p.snapshot().peerId === plan.stages[1].peerId)!;
    const start = victim.snapshot().stage?.frames ?? 0;
    const b = body(PROMPTS[1], 200);
    const answer = completion(ctx, b, false);
    await until('the answer under way', () => (victim.snapshot().stage?.frames ?? 0) >= start + 5, 60_000, 1);
    await victim.stop();
    const got = await answer;
    expect(got.text).toBe((await alone(b)).text);
    expect(recovered).toEqual([victim.snapshot().peerId]);
    expect(checker.status()).toMatchObject({ mismatches: 0, refused: 0, quarantined: [] });
  }, 120_000);
});
