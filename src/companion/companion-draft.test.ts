// --draft: the companion decodes its served model speculatively (here with the one-layer draft that
// shares tiny-llama-f32's vocabulary): the greedy answer is the plain engine's, word for word, and
// the usage says how many tokens were drafted and accepted.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../../tools/models/registry.ts';
import { createApiContext } from '../api/context.ts';
import { handleApiRequest } from '../api/handler.ts';
import { post } from '../api/testing/requests.ts';
import { Engine } from '../engine/engine.ts';
import { EngineProvider } from '../provider/engine-provider.ts';
import { startCompanion, type Companion } from './companion.ts';
import { defaultConfig } from './config.ts';
import { loadServedModel } from './served-model.ts';

const MODEL = 'tiny-llama-f32';
const BODY = { model: MODEL, messages: [{ role: 'user', content: 'Tell me about the sea and the sky.' }], max_tokens: 24, temperature: 0 };
let companion: Companion;
let draft: Engine;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'companion-draft-'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>app</title>');
  const served = await loadServedModel(await ensureModel(MODEL), { id: MODEL, backend: 'ref' });
  draft = await Engine.load(await ensureModel('tiny-llama-draft-f32'), { backend: 'ref' });
  companion = await startCompanion(
    { ...defaultConfig(dir), distDir: dir, modelsDir: dir, appPort: 0, nostrPort: 0, apiPort: 0, libp2pPort: 0, quicPort: 0, webTransportPort: 0 },
    { persistKey: false, models: [served], speculative: { drafter: 'model', draftModel: draft } },
  );
}, 120_000);
afterAll(async () => {
  await companion?.stop();
  await draft?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the companion with --draft', () => {
  it("answers greedily with the plain engine's text and reports drafted and accepted tokens", async () => {
    const res = await fetch(`${companion.urls.api}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(BODY),
    });
    expect(res.status).toBe(200);
    const spec = (await res.json()) as { choices: { message: { content: string } }[]; usage: { speculative?: { drafted: number; accepted: number } } };
    const engine = await Engine.load(await ensureModel(MODEL), { backend: 'ref' });
    const plain = (await (
      await handleApiRequest(post('/v1/chat/completions', BODY), createApiContext({ provider: new EngineProvider([{ id: MODEL, engine }]) }))
    ).json()) as typeof spec;
    await engine.close();
    expect(spec.choices[0]?.message.content).toBe(plain.choices[0]?.message.content);
    expect(plain.usage.speculative).toBeUndefined();
    expect(spec.usage.speculative?.drafted).toBeGreaterThan(0);
    expect(spec.usage.speculative?.accepted).toBeGreaterThanOrEqual(0);
    console.log(`--draft tiny-llama-draft-f32: ${spec.usage.speculative?.accepted} of ${spec.usage.speculative?.drafted} drafted tokens accepted`);
  }, 60_000);
});
