// A client that stops reading an SSE stream (its TCP window full) must not hold the only generation
// slot: once a write has not drained for the stall deadline, the server closes that connection,
// which cancels the body, stops the generation and frees the slot for the next client.
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../../tools/models/registry.ts';
import { createApiContext } from './context.ts';
import { nodeApiHandler } from './node-adapter.ts';
import { loadModelText, ScriptedProvider, TEST_MODEL } from './testing/scripted-provider.ts';

let server: Server;
let base: string;
let provider: ScriptedProvider;
let stalled: Socket | undefined;

beforeAll(async () => {
  const text = await loadModelText(await ensureModel(TEST_MODEL));
  const word = text.tokenizer.tokenize(' everything', { addSpecial: false });
  // Far more than the sockets' buffers hold (each token is an SSE frame of ~200 bytes), unless asked for less.
  provider = new ScriptedProvider({ text, contextLength: 1_000_000, script: () => new Array(400_000).fill(word[0]) });
  // One slot (concurrency 1): whoever holds it blocks everyone else.
  server = createServer(nodeApiHandler(createApiContext({ provider }), { stallMs: 400 }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  stalled?.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('a client that stops reading', () => {
  it('loses its slot after the stall deadline, and the next client is answered', async () => {
    const body = JSON.stringify({ model: TEST_MODEL, stream: true, max_tokens: 400_000, messages: [{ role: 'user', content: 'hi' }] });
    const { port } = server.address() as AddressInfo;
    const socket = connect(port, '127.0.0.1');
    stalled = socket;
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    // Read nothing, ever: the kernel's buffers fill and the server's writes stop draining.
    socket.pause();
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const started = Date.now();
    while (provider.calls.length === 0) await new Promise((r) => setTimeout(r, 20));
    const stuck = provider.calls[0];
    await stuck.finished;
    expect(stuck.stoppedEarly, 'the generation was stopped, not run to its end').toBe(true);
    expect(stuck.yielded).toBeLessThan(400_000);
    // The next client gets the slot and its answer.
    const honest = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: TEST_MODEL, max_tokens: 3, messages: [{ role: 'user', content: 'hello' }] }),
      signal: AbortSignal.timeout(10_000),
    });
    expect(honest.status).toBe(200);
    const answer = (await honest.json()) as { usage: { completion_tokens: number } };
    expect(answer.usage.completion_tokens).toBe(3);
    // The stalled connection was closed by the server (it never read, so it never ended it).
    socket.resume();
    await closed;
    expect(Date.now() - started).toBeLessThan(15_000);
  }, 30_000);
});
