// Issue 11: a tab creates and heads a private mesh from a link, with no click for a model on the app's
// own origin. It shows its invite in the field marked data-invite (naming itself by peer id and the
// model by URL), lists the model under the id requests use, and, as a client head with no server
// yet, answers its own fetch('/v1/chat/completions') 503 mesh_unavailable. A server head answers from
// its own copy of the model. A link to a model on another origin waits for the Create click.
// (Members linking to a head tab need the Nostr-signalled WebRTC transport: other specs.)
import { expect, test } from '@playwright/test';
import { decodeInvite } from '../src/mesh/invite.ts';
import { meshStackPerFile } from './support/mesh-stack.ts';

const MODEL = 'tiny-llama-4l-f32';
test.setTimeout(90_000);
const mesh = meshStackPerFile('app-head-tab', MODEL);

const createLink = (role: 'client' | 'server', modelUrl: string, auto = true) =>
  `${mesh.stack().urls.app}/#create=private&model=${encodeURIComponent(modelUrl)}&role=${role}${auto ? '&auto=1' : ''}&relay=${encodeURIComponent(mesh.stack().urls.nostr)}`;

test('a client head tab made from a link shows its invite, lists the model and answers 503 until servers join', async () => {
  const page = await (await mesh.browser().newContext()).newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  const modelUrl = `${mesh.stack().urls.app}/models/${MODEL}.gguf`;
  await page.goto(createLink('client', modelUrl));
  const field = page.locator('[data-invite]');
  await expect(field).toBeVisible({ timeout: 30_000 });
  const link = await field.inputValue();
  expect(await field.getAttribute('data-invite')).toBe(link);
  const state = await page.evaluate(() => window.meshApp.meshHead.state());
  expect(state).toMatchObject({ status: 'heading', role: 'client', model: { id: MODEL, url: modelUrl } });
  const invite = await decodeInvite(new URL(link).hash.replace(/^#join=/, ''));
  expect(invite.bootstrap).toEqual([`/p2p/${(state as { peerId: string }).peerId}`]);
  expect(invite.relays).toEqual([mesh.stack().urls.nostr]);
  expect(invite.model).toBe(modelUrl);
  await expect(page.getByTestId('mesh-create').getByTestId('mesh-invite-qr')).toBeVisible();

  const list = await page.evaluate(async () => (await window.meshApp.apiFetch('/v1/models')).json());
  expect(list.data.map((m: { id: string }) => m.id)).toContain(MODEL);
  const answer = await page.evaluate(async (model) => {
    const res = await window.meshApp.apiFetch('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 4 }),
    });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() };
  }, MODEL);
  expect(answer).toMatchObject({ status: 503, retryAfter: '5', body: { error: { code: 'mesh_unavailable' } } });
  expect(errors).toEqual([]);
});

test('a server head tab answers from its own copy of the model while no plan is ready', async () => {
  const page = await (await mesh.browser().newContext()).newPage();
  await page.goto(createLink('server', `${mesh.stack().urls.app}/models/${MODEL}.gguf`));
  await expect(page.locator('[data-invite]')).toBeVisible({ timeout: 60_000 });
  const answer = await page.evaluate(async (model) => {
    const res = await window.meshApp.apiFetch('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 4, temperature: 0 }),
    });
    return { status: res.status, via: res.headers.get('x-mesh-via'), body: await res.json() };
  }, MODEL);
  expect(answer.status).toBe(200);
  expect(answer.body.choices[0].message.content.length).toBeGreaterThan(0);
});

test('a link to a model on another origin waits for the Create click and shows the URL', async () => {
  const page = await (await mesh.browser().newContext()).newPage();
  await page.goto(createLink('client', 'https://models.example/x/other.gguf'));
  await expect(page.getByTestId('mesh-create')).toHaveAttribute('data-state', 'requested');
  await expect(page.getByTestId('mesh-create-requested-url')).toHaveText('https://models.example/x/other.gguf');
  await expect(page.getByTestId('mesh-create-button')).toBeVisible();
  await page.waitForTimeout(500);
  expect(await page.evaluate(() => window.meshApp.meshHead.state().status)).toBe('requested');
});
