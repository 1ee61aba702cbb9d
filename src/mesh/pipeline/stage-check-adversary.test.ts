// The corrupting-stage part of the adversary harness: tiny-llama-4l-f32 split across two server
// peers, one of which lies (mesh/testing/corrupting-stage.ts) from its fourth frame on, in each mode
// (noise, scale by 1.01, 1e-2 added, a constant, NaN, stale positions, replayed frames), with an
// honest spare peer standing by. The head (which holds the model, as the companion does) checks the
// stages: the liar is caught within 16 tokens and quarantined, the non-streamed answer is computed
// again without it and equals one machine's, served-by names it with the reason, and a streamed
// answer the liar touched ends with an error event in the caller's protocol. Chain topology by
// default (the head sees only the last stage's output, so a mismatch is pinned by running each
// stage alone), star for one mode; the liar joins first or second (the planner decides its stage).
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../../../tools/models/registry.ts';
import { createApiContext } from '../../api/context.ts';
import { handleApiRequest } from '../../api/handler.ts';
import { post, sseFrames } from '../../api/testing/requests.ts';
import { Engine } from '../../engine/engine.ts';
import { fileSource } from '../../engine/file-source.ts';
import { openModel } from '../../engine/model.ts';
import { openStage } from '../../engine/stage.ts';
import { EngineProvider } from '../../provider/engine-provider.ts';
import type { PeerNode } from '../net/peer-node.ts';
import type { PipelineCoordinator } from './coordinator.ts';
import { headProviderFor, type MeshProvider } from './mesh-provider.ts';
import { StageChecker } from './stage-check.ts';
import { corruptingCompute, type CorruptionMode } from '../testing/corrupting-stage.ts';
import { budgetFor, routeOf, startCoordinator, startServerPeer, startTestMesh, until, type TestMesh } from '../testing/test-mesh.ts';

const MODEL = 'tiny-llama-4l-f32';
const CHAT = { model: MODEL, messages: [{ role: 'user', content: 'Tell me a story about a fox.' }], max_tokens: 40, temperature: 0 };
let path: string;
let engine: Engine;
let solo: string;
let mesh: TestMesh | undefined;
let coordinator: PipelineCoordinator | undefined;
let peers: PeerNode[] = [];

beforeAll(async () => {
  path = await ensureModel(MODEL);
  engine = await Engine.load(path);
  const res = await handleApiRequest(post('/v1/chat/completions', CHAT), createApiContext({ provider: new EngineProvider([{ id: MODEL, engine }]) }));
  solo = (await res.json()).choices[0].message.content;
  expect(solo.length).toBeGreaterThan(20);
}, 120_000);

afterEach(async () => {
  coordinator?.stop();
  for (const p of peers) await p.stop().catch(() => {});
  await mesh?.stop();
  peers = [];
  mesh = undefined;
  coordinator = undefined;
});

function checkerFor(): StageChecker {
  const c = engine.model.config;
  return new StageChecker({
    openRange: (first, end) => openStage(engine.model, first, end),
    backend: 'ref',
    width: c.nEmbd,
    probe: () => engine.headAndTail.head.embed(Array.from({ length: 32 }, (_, i) => (i * 7919 + 13) % c.nVocab)),
  });
}

/** Two stages of two layers each, the liar at `liarAt`; then an honest spare that a replan can take. */
async function meshWithLiar(
  mode: CorruptionMode,
  liarAt: 0 | 1,
  topology: 'chain' | 'star',
): Promise<{ provider: MeshProvider; checker: StageChecker; liar: string }> {
  mesh = await startTestMesh();
  coordinator = startCoordinator(mesh, MODEL, engine.model);
  const open = async () => openModel(await fileSource(path));
  const budget = budgetFor(engine.model, 2);
  const liarCompute = corruptingCompute({ mode, after: 3 });
  for (let i = 0; i < 2; i++) peers.push(await startServerPeer(mesh, open, budget, i === liarAt ? liarCompute : undefined));
  await routeOf(coordinator, 2);
  const liar = peers[liarAt].snapshot().peerId;
  peers.push(await startServerPeer(mesh, open, budget));
  const checker = checkerFor();
  const provider = await headProviderFor(engine, {
    node: mesh.companion.node,
    coordinator,
    fallback: new EngineProvider([{ id: MODEL, engine }]),
    localStages: engine.stages,
    topology,
    checker,
  });
  return { provider, checker, liar };
}

const cases: { mode: CorruptionMode; liarAt: 0 | 1; topology: 'chain' | 'star' }[] = [
  { mode: 'noise', liarAt: 0, topology: 'chain' },
  { mode: 'scale', liarAt: 0, topology: 'chain' },
  { mode: 'perturb', liarAt: 1, topology: 'chain' },
  { mode: 'constant', liarAt: 0, topology: 'star' },
  { mode: 'nan', liarAt: 0, topology: 'chain' },
  { mode: 'stale', liarAt: 1, topology: 'chain' },
  { mode: 'replay', liarAt: 0, topology: 'chain' },
];

describe.each(cases)('a stage that lies ($mode, $topology)', ({ mode, liarAt, topology }) => {
  it('is caught within 16 tokens and quarantined; the answer is one machine’s, and served-by says why', async () => {
    const { provider, checker, liar } = await meshWithLiar(mode, liarAt, topology);
    const ctx = createApiContext({ provider });
    const res = await handleApiRequest(post('/v1/chat/completions', CHAT), ctx);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.choices[0].message.content).toBe(solo);
    const status = checker.status();
    expect(status.quarantined.map((q) => q.peerId)).toContain(liar);
    const failed = body.mesh.served_by.find((s: { peer: string }) => s.peer === liar);
    if (mode === 'nan') {
      // Refused by the frame checks before any token used it, and counted.
      expect(status.refused).toBeGreaterThanOrEqual(1);
      expect(failed.check).toMatch(/^failed: sent NaN or infinite hidden states/);
    } else {
      expect(status.mismatches).toBeGreaterThanOrEqual(1);
      expect(status.detectStepsMax).toBeGreaterThan(0);
      expect(status.detectStepsMax).toBeLessThanOrEqual(16);
      expect(failed.check).toMatch(/^failed: .*off \(tolerance/);
    }
    expect(res.headers.get('x-mesh-served-by')).toContain(`${liar};layers=`);
    expect(res.headers.get('x-mesh-served-by')).toMatch(/;check=failed/);
    expect(body.mesh.served_by.filter((s: { check: string }) => !s.check.startsWith('failed')).map((s: { peer: string }) => s.peer)).not.toContain(liar);
    // Out of plans: the next answer runs on honest peers only, and is right too.
    await until('a plan without the liar', () => coordinator!.route()?.plan.stages.every((s) => s.peerId !== liar));
    const again = await (await handleApiRequest(post('/v1/chat/completions', CHAT), ctx)).json();
    expect(again.choices[0].message.content).toBe(solo);
    console.log(
      `stage-check-adversary (${mode}, ${topology}, liar: peer ${liarAt}): detect_tokens=${status.detectStepsMax} checks=${status.checks} mismatches=${status.mismatches} refused=${status.refused} reason: ${status.quarantined[0]?.reason}`,
    );
  }, 120_000);
});

describe('a streamed answer a stage corrupted', () => {
  it('ends with an error event in the caller’s protocol (OpenAI and Anthropic), never quietly', async () => {
    const { provider, liar } = await meshWithLiar('scale', 0, 'chain');
    const ctx = createApiContext({ provider });
    const res = await handleApiRequest(post('/v1/chat/completions', { ...CHAT, stream: true }), ctx);
    const frames: string[] = [];
    for await (const f of sseFrames(res)) frames.push(f.data);
    const last = JSON.parse(frames.at(-1)!);
    expect(last.error).toMatchObject({ code: 'mesh_stage_check_failed', message: expect.stringContaining(liar) });
    expect(frames).not.toContain('[DONE]');

    // The liar is out now; a fresh liar for the Anthropic shape.
    const second = await meshWithLiarAgain();
    const anthropic = await handleApiRequest(
      post('/v1/messages', { ...CHAT, stream: true }, { 'anthropic-version': '2023-06-01' }),
      createApiContext({ provider: second }),
    );
    const events = [];
    for await (const f of sseFrames(anthropic)) events.push(f);
    expect(events.at(-1)!.event).toBe('error');
    expect(JSON.parse(events.at(-1)!.data)).toMatchObject({ type: 'error', error: { message: expect.stringMatching(/computed wrong hidden states/) } });
  }, 120_000);
});

/** A second mesh with a liar, after the first was torn down. */
async function meshWithLiarAgain(): Promise<MeshProvider> {
  coordinator?.stop();
  for (const p of peers) await p.stop().catch(() => {});
  await mesh?.stop();
  peers = [];
  return (await meshWithLiar('noise', 0, 'chain')).provider;
}
