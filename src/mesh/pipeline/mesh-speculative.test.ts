// Speculative decoding through a two-stage Node mesh (tiny-qwen2-f16, one layer per server peer on
// the WASM kernels, which sum batches of 4+ rows in another order than 1-3; its greedy output on the
// prompt below keeps repeating, so the n-gram drafter is right often; tiny-qwen3-q8_0 shares its
// vocabulary and drafts, mostly wrongly, so rollbacks are many): greedy output equals
// plain decoding through the same mesh token for token with both drafters, also when a stage is lost
// mid-answer and the head replays onto its own layers, and the stages' KV caches after a rejected
// draft's rollback give a fresh run's logits.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../../../tools/models/registry.ts';
import { Engine } from '../../engine/engine.ts';
import { fileSource } from '../../engine/file-source.ts';
import { openHead } from '../../engine/head.ts';
import { openModel } from '../../engine/model.ts';
import { openTail } from '../../engine/tail.ts';
import { DEFAULT_SAMPLING } from '../../protocol/generation.ts';
import { EngineProvider } from '../../provider/engine-provider.ts';
import type { Generation } from '../../provider/provider.ts';
import type { SpeculativeConfig } from '../../provider/speculative-mode.ts';
import type { PeerNode } from '../net/peer-node.ts';
import type { PipelineCoordinator } from './coordinator.ts';
import { headProviderFor } from './mesh-provider.ts';
import { createMeshSession } from './mesh-session.ts';
import { budgetFor, routeOf, startCoordinator, startServerPeer, startTestMesh, until, type TestMesh } from '../testing/test-mesh.ts';

const MODEL = 'tiny-qwen2-f16';
const DRAFT = 'tiny-qwen3-q8_0';
const GEN = 32;
let path: string;
let engine: Engine;
let draft: Engine;
let mesh: TestMesh;
let coordinator: PipelineCoordinator;
const peers: PeerNode[] = [];
let prompt: number[];

beforeAll(async () => {
  path = await ensureModel(MODEL);
  engine = await Engine.load(path);
  draft = await Engine.load(await ensureModel(DRAFT));
  mesh = await startTestMesh();
  coordinator = startCoordinator(mesh, MODEL, engine.model);
  for (let i = 0; i < 2; i++) peers.push(await startServerPeer(mesh, async () => openModel(await fileSource(path)), budgetFor(engine.model, 1)));
  await routeOf(coordinator, 2);
  prompt = engine.tokenize('one a while');
}, 120_000);

afterAll(async () => {
  coordinator?.stop();
  for (const p of peers) await p.stop().catch(() => {});
  await mesh?.stop();
  await draft?.close();
  await engine?.close();
});

async function generate(speculative?: SpeculativeConfig, holdsLayers = false): Promise<{ tokens: number[]; gen: Generation }> {
  const provider = await headProviderFor(engine, {
    node: mesh.companion.node,
    coordinator,
    fallback: new EngineProvider([{ id: MODEL, engine }]),
    recoverTimeoutMs: 500,
    ...(holdsLayers ? { localStages: engine.stages } : {}),
    ...(speculative ? { speculative } : {}),
  });
  const gen = await provider.generate({
    model: MODEL,
    promptTokens: prompt,
    sampling: { ...DEFAULT_SAMPLING, temperature: 0 },
    maxTokens: GEN,
    signal: new AbortController().signal,
  });
  const tokens: number[] = [];
  for await (const t of gen.tokens) tokens.push(t);
  return { tokens, gen };
}

describe('speculative decoding through a two-stage mesh', () => {
  let plain: number[];

  it('gives plain decoding’s greedy tokens with the n-gram drafter and with a draft model, and counts drafts in usage', async () => {
    ({ tokens: plain } = await generate());
    expect(plain).toHaveLength(GEN);
    const before = peers.map((p) => p.snapshot().stage!.frames);
    const ngram = await generate({ drafter: 'ngram' });
    const model = await generate({ drafter: 'model', draftModel: draft });
    expect(ngram.tokens).toEqual(plain);
    expect(model.tokens).toEqual(plain);
    const stats = [ngram.gen.speculative!, model.gen.speculative!];
    for (const s of stats) expect(s.drafted).toBeGreaterThan(0);
    // Drafts were accepted, so the two answers took fewer frames per stage than two plain answers would.
    expect(stats[0].accepted + stats[1].accepted).toBeGreaterThan(0);
    const frames = peers.map((p, i) => p.snapshot().stage!.frames - before[i]);
    for (const f of frames) expect(f).toBeLessThan(2 * GEN);
    console.log(
      `mesh-speculative.test: ngram accepted ${stats[0].accepted}/${stats[0].drafted}, model ${stats[1].accepted}/${stats[1].drafted}; frames per stage ${frames.join(', ')} for two answers of ${GEN}`,
    );
  }, 120_000);

  it('gives the same tokens when a stage is lost mid-answer and the head replays onto its own layers', async () => {
    plain ??= (await generate()).tokens;
    const last = coordinator.route()!.plan.stages.at(-1)!.peerId;
    const victim = peers.find((p) => p.snapshot().peerId === last)!;
    const start = victim.snapshot().stage!.frames;
    const killed = until('the answer under way', () => victim.snapshot().stage!.frames >= start + 6, 60_000, 1).then(() => victim.stop());
    const { tokens, gen } = await generate({ drafter: 'ngram' }, true);
    await killed;
    expect(tokens).toEqual(plain);
    expect(gen.speculative!.drafted).toBeGreaterThan(0);
  }, 120_000);
});

describe('rollback on the stages', () => {
  it('leaves KV caches that give a fresh run’s logits after a rejected draft', async () => {
    // Two fresh peers: the previous block stopped one.
    const m = await startTestMesh();
    const c = startCoordinator(m, MODEL, engine.model);
    const own: PeerNode[] = [];
    try {
      for (let i = 0; i < 2; i++) own.push(await startServerPeer(m, async () => openModel(await fileSource(path)), budgetFor(engine.model, 1)));
      const { plan } = await routeOf(c, 2);
      const open = async () =>
        createMeshSession({
          node: m.companion.node,
          coordinator: c,
          head: await openHead(engine.model),
          tail: await openTail(engine.model),
          nEmbd: engine.config.nEmbd,
          nVocab: engine.config.nVocab,
          maxPositions: 256,
          plan,
        });
      const p = engine.tokenize('one two three four five six seven eight nine');
      const rolled = await open();
      await rolled.extend(p, { logits: 'none' });
      // A pending token and five drafts (an exact frame, 3 + 3 rows on WASM), two accepted: roll back over the rest.
      await rolled.extend([5, 6, 7, 8, 9, 10]);
      rolled.truncate(p.length + 3);
      const after = await rolled.extend([11, 12], { logits: 'all' });
      const fresh = await open();
      await fresh.extend(p, { logits: 'none' });
      for (const t of [5, 6, 7]) await fresh.extend([t], { logits: 'none' });
      const expected = new Float32Array(after.length);
      expected.set(await fresh.extend([11]), 0);
      expected.set(await fresh.extend([12]), after.length / 2);
      let worst = 0;
      for (let i = 0; i < after.length; i++) worst = Math.max(worst, Math.abs(after[i] - expected[i]));
      expect(worst).toBeLessThan(1e-5);
      rolled.free();
      fresh.free();
    } finally {
      c.stop();
      for (const p of own) await p.stop().catch(() => {});
      await m.stop();
    }
  }, 120_000);
});
