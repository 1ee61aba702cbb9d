// /v1 over the mesh's API stream, in one process: a client-role peer sends its requests to the head
// (the companion's mesh node answering with handleApiRequest over a scripted provider) and gets the
// same answers as the head's API gives directly; an abort stops the head's generation within a token;
// non-members and malformed or oversized frames are refused without hurting the head.
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify } from '@libp2p/identify';
import { webSockets } from '@libp2p/websockets';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webSocketAddress } from '../../companion/libp2p-node.ts';
import { createApiContext, handleApiRequest, type ApiContext } from '../../api/index.ts';
import { loadModelText, ScriptedProvider, TEST_MODEL } from '../../api/testing/scripted-provider.ts';
import { encodeApiFrame } from '../../protocol/mesh-api.ts';
import { ensureModel } from '../../../tools/models/registry.ts';
import { createIdentity } from '../identity.ts';
import { startTestMesh, until, type TestMesh } from '../testing/test-mesh.ts';
import { serveMeshApi } from './api-stream.ts';
import { FrameStream } from './frame-stream.ts';
import { PeerNode } from './peer-node.ts';
import { API_PROTOCOL } from './protocols.ts';

let mesh: TestMesh;
let provider: ScriptedProvider;
let ctx: ApiContext;
let client: PeerNode;
const clientKeys: string[] = [];
const REPLY = 'The mesh answers one token at a time, and every token travels back over the stream.';

beforeAll(async () => {
  mesh = await startTestMesh();
  provider = new ScriptedProvider({ text: await loadModelText(await ensureModel(TEST_MODEL)), reply: REPLY, delayMs: 15 });
  ctx = createApiContext({ provider });
  await serveMeshApi(mesh.companion.node, (request, info) => {
    clientKeys.push(info.clientKey);
    return handleApiRequest(request, ctx, info);
  });
  client = new PeerNode({ identity: await createIdentity(), invite: mesh.invite, role: 'client', backend: 'wasm', memoryBudgetBytes: 0, webrtc: false });
  await client.start();
  await until('the head verified the client', () => mesh.companion.node.isMember(client.snapshot().peerId));
  await until('the client verified the head', () => client.snapshot().peers.some((p) => p.companion && p.member));
}, 60_000);

afterAll(async () => {
  await client?.stop();
  await mesh?.stop();
});

const post = (path: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal) =>
  new Request(`http://app.invalid${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
const direct = (request: Request) => handleApiRequest(request, ctx, { clientKey: 'direct' });
const chat = (stream: boolean, model = TEST_MODEL) => ({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 64, stream });

/** The content of an OpenAI SSE stream, and how many events carried it. */
function sseText(raw: string): { text: string; events: number } {
  let text = '';
  let events = 0;
  for (const line of raw.split('\n')) {
    if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
    const delta = (JSON.parse(line.slice(6)) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content;
    if (delta) {
      text += delta;
      events++;
    }
  }
  return { text, events };
}

describe('the mesh API stream', () => {
  it('streams a chat completion with the same text as the head’s own API, queued under the client’s peer id', async () => {
    const [viaMesh, own] = [await client.fetchApi(post('/v1/chat/completions', chat(true))), await direct(post('/v1/chat/completions', chat(true)))];
    expect(viaMesh.status).toBe(200);
    expect(viaMesh.headers.get('content-type')).toBe(own.headers.get('content-type'));
    expect(viaMesh.headers.get('x-mesh-served-by')).toBe(own.headers.get('x-mesh-served-by'));
    const [a, b] = [sseText(await viaMesh.text()), sseText(await own.text())];
    expect(a.text.trim()).toBe(REPLY); // SPM's leading space is the model's, in both
    expect(a).toEqual(b);
    expect(clientKeys.at(-1)).toBe(client.snapshot().peerId);

    const whole = await client.fetchApi(
      post('/v1/messages', { model: TEST_MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] }, { 'anthropic-version': '2023-06-01' }),
    );
    expect(whole.status).toBe(200);
    expect(((await whole.json()) as { content: { text: string }[] }).content[0].text.trim()).toBe(REPLY);
  });

  it('lists the head’s models under the ids requests use', async () => {
    const listed = (await (await client.fetchApi(new Request('http://app.invalid/v1/models'))).json()) as { data: { id: string }[] };
    expect(listed).toEqual(await (await direct(new Request('http://app.invalid/v1/models'))).json());
    expect(listed.data.map((m) => m.id)).toEqual([TEST_MODEL]);
  });

  it('answers errors in each protocol’s own shape', async () => {
    for (const [path, headers, body] of [
      ['/v1/chat/completions', {}, chat(false, 'no-such-model')],
      ['/v1/messages', { 'anthropic-version': '2023-06-01' }, { model: 'no-such-model', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }],
      ['/v1/chat/completions', {}, { model: TEST_MODEL, messages: 'not a list' }],
    ] as const) {
      const [viaMesh, own] = [await client.fetchApi(post(path, body, headers)), await direct(post(path, body, headers))];
      expect(viaMesh.status).toBe(own.status);
      expect(await viaMesh.json()).toEqual(await own.json());
    }
    const notFound = await client.fetchApi(post('/v1/messages', { model: 'no-such-model', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }));
    expect(notFound.status).toBe(404);
    expect(await notFound.json()).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
    const openai = await client.fetchApi(post('/v1/chat/completions', chat(false, 'no-such-model')));
    expect(openai.status).toBe(404);
    expect(await openai.json()).toMatchObject({ error: { type: 'invalid_request_error', code: 'model_not_found' } });
  });

  for (const how of ['abort', 'cancel'] as const) {
    it(`a client that ${how === 'abort' ? 'aborts the request' : 'cancels the body'} stops the head’s generation within one token`, async () => {
      const controller = new AbortController();
      const calls = provider.calls.length;
      const response = await client.fetchApi(post('/v1/chat/completions', chat(true), {}, controller.signal));
      const reader = response.body!.getReader();
      let received = 0;
      while (received < 3) {
        const { value } = await reader.read();
        received += sseText(new TextDecoder().decode(value)).events;
      }
      if (how === 'abort') {
        // Waited for frames to arrive first: an aborted request still reads none of them, as fetch does.
        await new Promise((resolve) => setTimeout(resolve, 100));
        controller.abort();
        await expect(reader.read()).rejects.toMatchObject({ name: 'AbortError' });
      } else await reader.cancel();
      const log = provider.calls[calls];
      const handedOut = log.yielded;
      await log.finished;
      expect(log.stoppedEarly).toBe(true);
      expect(log.yielded - handedOut).toBeLessThanOrEqual(1);
      expect(log.yielded).toBeLessThan(provider.replyTokens().length - 3);
      await until('the head freed the queue slot', () => ctx.queues.for(TEST_MODEL).stats.running === 0, 2000);
    });
  }

  it('refuses a peer that is not a member', async () => {
    const plain = await createLibp2p({
      transports: [webSockets()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify() },
    });
    try {
      const calls = provider.calls.length;
      const ask = async () => {
        const stream = await plain.dialProtocol(multiaddr(webSocketAddress(mesh.libp2p)), API_PROTOCOL);
        const frames = new FrameStream(stream, 1 << 20);
        const body = new TextEncoder().encode(JSON.stringify(chat(false)));
        await frames.write(
          encodeApiFrame({
            kind: 'request',
            method: 'POST',
            path: '/v1/chat/completions',
            headers: { 'content-type': 'application/json' },
            bodyBytes: body.length,
          }),
        );
        await frames.write(encodeApiFrame({ kind: 'body', bytes: body }));
        return frames.read(AbortSignal.timeout(5000));
      };
      await expect(ask()).rejects.toThrow();
      expect(provider.calls.length).toBe(calls);
    } finally {
      await plain.stop();
    }
  });

  it('resets a stream that sends a malformed or oversized frame, and goes on serving', async () => {
    const node = client.node!;
    const head = mesh.libp2p.peerId.toString();
    const raw = async (...writes: Uint8Array[]) => {
      const stream = await node.dialProtocol(mesh.libp2p.peerId, API_PROTOCOL);
      for (const bytes of writes) stream.send(bytes);
      const frames = new FrameStream(stream, 1 << 20);
      return frames.read(AbortSignal.timeout(5000));
    };
    const lp = (bytes: Uint8Array) =>
      Uint8Array.of((bytes.length & 0x7f) | (bytes.length > 127 ? 0x80 : 0), ...(bytes.length > 127 ? [bytes.length >> 7] : []), ...bytes);
    const request = (bodyBytes: number) =>
      encodeApiFrame({ kind: 'request', method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, bodyBytes });
    const good = new TextEncoder().encode(JSON.stringify(chat(false)));
    // The same raw writes, well formed, are answered: what follows fails for its frames alone.
    expect((await raw(lp(request(good.length)), lp(encodeApiFrame({ kind: 'body', bytes: good }))))[0]).toBe(4);
    const calls = provider.calls.length;
    await expect(raw(lp(Uint8Array.of(9, 1, 2)))).rejects.toThrow(); // unknown kind
    await expect(raw(lp(encodeApiFrame({ kind: 'response', status: 200, headers: {} })))).rejects.toThrow(); // a head's frame
    await expect(raw(lp(encodeApiFrame({ kind: 'body', bytes: Uint8Array.of(1) })))).rejects.toThrow(); // body before request
    await expect(raw(lp(request(2)), lp(encodeApiFrame({ kind: 'body', bytes: Uint8Array.of(1, 2, 3) })))).rejects.toThrow(); // body past its length
    await expect(raw(Uint8Array.of(0x80, 0x80, 0x40))).rejects.toThrow(); // a 1 MiB frame announced: refused before its bytes come
    expect(provider.calls.length).toBe(calls);
    expect(mesh.companion.node.isMember(client.snapshot().peerId)).toBe(true);
    expect(head).toBe(client.snapshot().peers.find((p) => p.companion)?.peerId);
    const after = await client.fetchApi(post('/v1/chat/completions', chat(false)));
    expect(((await after.json()) as { choices: { message: { content: string } }[] }).choices[0].message.content.trim()).toBe(REPLY);
  });
});
