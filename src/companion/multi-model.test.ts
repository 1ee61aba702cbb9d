// A companion serving two models (`--model a --model b`) to a mesh of four server peers, each able to
// hold one layer of either two-layer model: the companion shares the peers out (two per model) and
// plans each model over its two. Requests to both models, sent at once, are each answered by the
// peers holding that model (x-mesh-served-by) with the text the companion alone gives; /v1/models
// names those peers and layers in `mesh`; an unknown model is a 404 in OpenAI's and Anthropic's shape.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../../tools/models/registry.ts';
import { fileSource } from '../engine/file-source.ts';
import { openModel, type ModelFile } from '../engine/model.ts';
import type { PeerNode } from '../mesh/net/peer-node.ts';
import { budgetFor, startServerPeer } from '../mesh/testing/test-mesh.ts';
import { startCompanion, type Companion } from './companion.ts';
import { defaultConfig } from './config.ts';
import { loadServedModel } from './served-model.ts';

const MODELS = ['tiny-llama-q8_0', 'tiny-qwen3-q8_0'] as const;
const PROMPT = 'Tell me a story about a fox.';
const dir = mkdtempSync(join(tmpdir(), 'multi-model-'));
let companion: Companion;
const solo = new Map<string, string>();
const peers: PeerNode[] = [];
const sources: { close(): Promise<void> }[] = [];

interface ModelEntry {
  id: string;
  mesh?: { peer: string; layers: [number, number] }[];
}

async function chat(model: string, stream = false): Promise<Response> {
  return fetch(`${companion.urls.api}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: PROMPT }], max_tokens: 24, temperature: 0, stream }),
  });
}

async function models(anthropic = false): Promise<ModelEntry[]> {
  const res = await fetch(`${companion.urls.api}/v1/models`, { headers: anthropic ? { 'anthropic-version': '2023-06-01' } : {} });
  expect(res.status).toBe(200);
  return ((await res.json()) as { data: ModelEntry[] }).data;
}

async function streamedText(response: Response): Promise<string> {
  let text = '';
  for (const event of (await response.text()).split('\n\n')) {
    if (!event.startsWith('data: ') || event === 'data: [DONE]') continue;
    const chunk = JSON.parse(event.slice(6)) as { error?: unknown; choices: { delta: { content?: string } }[] };
    expect(chunk.error).toBeUndefined();
    text += chunk.choices[0]?.delta.content ?? '';
  }
  return text;
}

/** Peer ids in an x-mesh-served-by header. */
const servedPeers = (header: string | null) => (header ?? '').split(', ').map((s) => s.split(';')[0]);

beforeAll(async () => {
  const paths = await Promise.all(MODELS.map((m) => ensureModel(m)));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>app</title>');
  const served = await Promise.all(MODELS.map((id, i) => loadServedModel(paths[i], { id, backend: 'cpu' })));
  companion = await startCompanion(
    { ...defaultConfig(dir), distDir: dir, modelsDir: dirname(paths[0]), appPort: 0, nostrPort: 0, apiPort: 0, libp2pPort: 0, quicPort: 0 },
    { persistKey: false, models: served },
  );
  // With no server peer yet, the companion answers each model alone: what one machine gives.
  for (const model of MODELS) {
    const res = await chat(model);
    expect(res.headers.get('x-mesh-served-by')).toBe('companion;layers=0-2');
    solo.set(model, ((await res.json()) as { choices: { message: { content: string } }[] }).choices[0].message.content);
    expect(solo.get(model)!.length).toBeGreaterThan(10);
  }
  expect(solo.get(MODELS[0])).not.toBe(solo.get(MODELS[1]));
  const files = new Map<string, ModelFile>();
  for (const [i, id] of MODELS.entries()) {
    const source = await fileSource(paths[i]);
    sources.push(source);
    files.set(id, await openModel(source));
  }
  // One layer of the larger model each, not two of the smaller: each model needs two peers.
  const budget = Math.max(...[...files.values()].map((f) => budgetFor(f, 1)));
  const open = async (model: string) => {
    const file = files.get(model);
    if (!file) throw new Error(`no model ${model} here`);
    return file;
  };
  for (let i = 0; i < 4; i++) peers.push(await startServerPeer({ invite: companion.mesh.invite }, open, budget));
}, 120_000);

afterAll(async () => {
  for (const peer of peers) await peer.stop().catch(() => {});
  await companion?.stop();
  for (const s of sources) await s.close().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

describe('a companion serving two models', () => {
  it('lists each model with the peers and layers of its ready plan, two peers each, none shared', async () => {
    // Each model's `mesh` is its ready plan's stages once there is one, the companion's own layers until then.
    let planned: ModelEntry[] = [];
    const twoStages = (id: string) => planned.find((m) => m.id === id)?.mesh?.filter((s) => s.peer !== 'companion').length === 2;
    const deadline = Date.now() + 90_000;
    while (!MODELS.every(twoStages) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      planned = await models();
    }
    expect(planned.map((m) => m.mesh)).not.toContainEqual([{ peer: 'companion', layers: [0, 2] }]);
    expect(MODELS.every(twoStages)).toBe(true);
    const ids = peers.map((p) => p.snapshot().peerId);
    const [a, b] = MODELS.map((id) => planned.find((m) => m.id === id)!.mesh!);
    for (const mesh of [a, b]) {
      expect(mesh.map((s) => s.layers)).toEqual([
        [0, 1],
        [1, 2],
      ]);
      for (const s of mesh) expect(ids).toContain(s.peer);
    }
    expect(new Set([...a, ...b].map((s) => s.peer)).size).toBe(4);
    // Anthropic's shape carries the same field.
    const anthropic = await models(true);
    expect(anthropic.find((m) => m.id === MODELS[0])?.mesh).toEqual(a);
    expect(anthropic.find((m) => m.id === MODELS[1])?.mesh).toEqual(b);
  }, 120_000);

  it('answers requests to both models sent at once, each through the peers that hold it, with the text one machine gives', async () => {
    const list = await models();
    const holders = new Map(MODELS.map((id) => [id, list.find((m) => m.id === id)!.mesh!.map((s) => s.peer)]));
    const asks = [MODELS[0], MODELS[1], MODELS[0], MODELS[1], MODELS[1], MODELS[0]];
    const answers = await Promise.all(
      asks.map(async (model, i) => {
        const res = await chat(model, i % 2 === 1);
        expect(res.status).toBe(200);
        const text = i % 2 === 1 ? await streamedText(res) : ((await res.json()) as { choices: { message: { content: string } }[] }).choices[0].message.content;
        return { model, servedBy: servedPeers(res.headers.get('x-mesh-served-by')), text };
      }),
    );
    for (const a of answers) {
      expect(a.servedBy).toEqual(holders.get(a.model));
      expect(a.text).toBe(solo.get(a.model));
    }
  }, 120_000);

  it('answers an unknown model with a 404 in the protocol of the request', async () => {
    const openai = await chat('no-such-model');
    expect(openai.status).toBe(404);
    const body = (await openai.json()) as { error: { type: string; code: string; param: string; message: string } };
    expect(body.error).toMatchObject({ type: 'invalid_request_error', code: 'model_not_found', param: 'model' });
    expect(body.error.message).toContain(MODELS[0]);
    expect(body.error.message).toContain(MODELS[1]);
    const anthropic = await fetch(`${companion.urls.api}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'no-such-model', max_tokens: 8, messages: [{ role: 'user', content: PROMPT }] }),
    });
    expect(anthropic.status).toBe(404);
    expect(await anthropic.json()).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
  }, 30_000);
});
