// Log-probs through the mesh: tiny-llama-f32 split across two server peers, served by MeshProvider
// through the API. Echo scoring (max_tokens 0) and chat log-probs equal the same model on one machine.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../../../tools/models/registry.ts';
import { createApiContext, type ApiContext } from '../../api/context.ts';
import { EngineProvider } from '../../provider/engine-provider.ts';
import { handleApiRequest } from '../../api/handler.ts';
import { post } from '../../api/testing/requests.ts';
import { Engine } from '../../engine/engine.ts';
import { fileSource } from '../../engine/file-source.ts';
import { openModel } from '../../engine/model.ts';
import type { PeerNode } from '../net/peer-node.ts';
import type { PipelineCoordinator } from './coordinator.ts';
import { headProviderFor } from './mesh-provider.ts';
import { budgetFor, routeOf, startCoordinator, startServerPeer, startTestMesh, type TestMesh } from '../testing/test-mesh.ts';

const MODEL = 'tiny-llama-f32';
const PROMPT = 'The quick brown fox jumps over the lazy dog. Once upon a time';
let mesh: TestMesh;
let coordinator: PipelineCoordinator;
const peers: PeerNode[] = [];
let engine: Engine;
let meshCtx: ApiContext;
let soloCtx: ApiContext;

beforeAll(async () => {
  const path = await ensureModel(MODEL);
  engine = await Engine.load(path);
  mesh = await startTestMesh();
  coordinator = startCoordinator(mesh, MODEL, engine.model);
  for (let i = 0; i < 2; i++) peers.push(await startServerPeer(mesh, async () => openModel(await fileSource(path)), budgetFor(engine.model, 1)));
  await routeOf(coordinator, 2);
  const fallback = new EngineProvider([{ id: MODEL, engine }]);
  meshCtx = createApiContext({ provider: await headProviderFor(engine, { node: mesh.companion.node, coordinator, fallback }) });
  soloCtx = createApiContext({ provider: new EngineProvider([{ id: MODEL, engine }]) });
}, 120_000);
afterAll(async () => {
  coordinator?.stop();
  for (const p of peers) await p.stop().catch(() => {});
  await mesh?.stop();
  await engine?.close();
});

async function both(route: string, body: unknown): Promise<[any, any, Response]> {
  const m = await handleApiRequest(post(route, body), meshCtx);
  const s = await handleApiRequest(post(route, body), soloCtx);
  return [await m.clone().json(), await s.json(), m];
}

describe('log-probs through the mesh', () => {
  it('scores an echoed prompt as one machine does', async () => {
    const [m, s, res] = await both('/v1/completions', { model: MODEL, prompt: PROMPT, echo: true, max_tokens: 0, logprobs: 5 });
    expect(res.headers.get('x-mesh-served-by')).toMatch(/layers=0-1, .*layers=1-2/); // two peers, not the head alone
    const a = m.choices[0].logprobs,
      b = s.choices[0].logprobs;
    expect(a.tokens).toEqual(b.tokens);
    let worst = 0;
    a.token_logprobs.forEach((x: number | null, i: number) => {
      if (x !== null) worst = Math.max(worst, Math.abs(x - b.token_logprobs[i]));
    });
    console.log(`mesh echo: worst |Δ logprob| vs one machine ${worst.toExponential(2)} over ${a.tokens.length} tokens`);
    expect(worst).toBeLessThan(1e-4);
  }, 60_000);

  it("reports the generated tokens' log-probs as one machine does", async () => {
    const body = { model: MODEL, messages: [{ role: 'user', content: 'Hello, who are you?' }], max_tokens: 8, temperature: 0, logprobs: true, top_logprobs: 3 };
    const [m, s, res] = await both('/v1/chat/completions', body);
    expect(res.headers.get('x-mesh-served-by')).toMatch(/layers=0-1, .*layers=1-2/);
    expect(m.choices[0].message.content).toBe(s.choices[0].message.content);
    const a = m.choices[0].logprobs.content,
      b = s.choices[0].logprobs.content;
    expect(a.map((t: any) => t.token)).toEqual(b.map((t: any) => t.token));
    a.forEach((t: any, i: number) => expect(Math.abs(t.logprob - b[i].logprob)).toBeLessThan(1e-4));
  }, 60_000);
});
