import { describe, expect, it } from 'vitest';
import { chatBody, listModels, parseServedByHeader, PlaygroundError, streamChat, type ChatEvent } from './playground-chat.ts';

function sseResponse(frames: string[], headers: Record<string, string> = {}, gate?: Promise<void>): Response {
  const encoder = new TextEncoder();
  let i = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (i === 2 && gate) await gate;
      if (i < frames.length) controller.enqueue(encoder.encode(frames[i++]));
      else controller.close();
    },
  });
  return new Response(body, { headers: { 'content-type': 'text/event-stream', ...headers } });
}

const frame = (content: string | undefined, extra: Record<string, unknown> = {}) =>
  `data: ${JSON.stringify({ choices: [{ delta: content === undefined ? {} : { content }, finish_reason: null }], ...extra })}\n\n`;

describe('streamChat', () => {
  it('reports deltas in order, served-by from the stream and tokens per second', async () => {
    let clock = 0;
    const frames = [
      frame('', { mesh: { served_by: [{ peer: 'companion', layers: [0, 2] }] } }),
      frame('Hel'),
      frame('lo'),
      frame(' you'),
      `data: ${JSON.stringify({ choices: [{ delta: {}, finish_reason: 'length' }] })}\n\n`,
      `data: ${JSON.stringify({ choices: [], usage: { completion_tokens: 3 } })}\n\n`,
      'data: [DONE]\n\n',
    ];
    const events: ChatEvent[] = [];
    let sent: RequestInit | undefined;
    const stats = await streamChat(
      async (_url, init) => {
        sent = init;
        return sseResponse(frames, { 'x-mesh-via': 'page; companion' });
      },
      chatBody('m', [{ role: 'user', content: 'hi' }], { temperature: 0.7, topP: 0.9, maxTokens: 3, seed: 4 }),
      (e) => {
        events.push(e);
        clock += 100;
      },
      new AbortController().signal,
      () => clock,
    );
    expect(JSON.parse(sent!.body as string)).toMatchObject({ model: 'm', stream: true, temperature: 0.7, top_p: 0.9, max_tokens: 3, seed: 4 });
    expect(events.filter((e) => e.type === 'delta').map((e) => (e as { text: string }).text)).toEqual(['Hel', 'lo', ' you']);
    expect(stats.servedBy).toEqual([{ peer: 'companion', layers: [0, 2] }]);
    expect(stats).toMatchObject({ tokens: 3, usageTokens: 3, finishReason: 'length', via: 'page; companion' });
    // first token at t=100 (after 'open'), end at 400: 2 tokens over 0.3 s
    expect(stats.tokensPerSecond).toBeCloseTo(2 / 0.3, 5);
  });

  it('stops on abort with the partial reply and cancels the body', async () => {
    const controller = new AbortController();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const deltas: string[] = [];
    const done = streamChat(
      async () => sseResponse([frame('a'), frame('b'), frame('c')], {}, gate),
      {},
      (e) => {
        if (e.type === 'delta') {
          deltas.push(e.text);
          if (deltas.length === 2) {
            controller.abort();
            release();
          }
        }
      },
      controller.signal,
    );
    const stats = await done;
    expect(deltas).toEqual(['a', 'b']);
    expect(stats.finishReason).toBe('stopped');
  });

  it('turns a 503 into a no-peer error carrying the server message', async () => {
    const response = new Response(JSON.stringify({ error: { message: 'no companion API answered' } }), {
      status: 503,
      headers: { 'content-type': 'application/json' },
    });
    const error = await streamChat(
      async () => response,
      {},
      () => {},
      new AbortController().signal,
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PlaygroundError);
    expect(error).toMatchObject({ code: 'no_peer', status: 503 });
    expect((error as Error).message).toMatch(/^No companion API answered/);
  });

  it('surfaces an error frame in the middle of the stream', async () => {
    const error = await streamChat(
      async () => sseResponse([frame('a'), `data: ${JSON.stringify({ error: { message: 'peer left' } })}\n\n`]),
      {},
      () => {},
      new AbortController().signal,
    ).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'stream_error' });
    expect((error as Error).message).toContain('peer left');
  });

  it('says the API is unreachable when fetch throws', async () => {
    const error = await streamChat(
      async () => {
        throw new TypeError('Failed to fetch');
      },
      {},
      () => {},
      new AbortController().signal,
    ).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'unreachable' });
  });
});

describe('helpers', () => {
  it('parses x-mesh-served-by', () => {
    expect(parseServedByHeader('a;layers=0-16, b;layers=16-32')).toEqual([
      { peer: 'a', layers: [0, 16] },
      { peer: 'b', layers: [16, 32] },
    ]);
    expect(parseServedByHeader(null)).toEqual([]);
    // Parameters after the layers (an open mesh, a stage quarantined by the head's checks) are skipped.
    expect(parseServedByHeader('a;layers=0-2;mesh=open, b;layers=0-2;check=failed')).toEqual([
      { peer: 'a', layers: [0, 2] },
      { peer: 'b', layers: [0, 2] },
    ]);
  });

  it('omits the seed when none is set', () => {
    expect(chatBody('m', [], { temperature: 1, topP: 1, maxTokens: 8, seed: null })).not.toHaveProperty('seed');
  });

  it('lists model ids', async () => {
    const ids = await listModels(async () => Response.json({ object: 'list', data: [{ id: 'x' }, { id: 'y' }] }));
    expect(ids).toEqual(['x', 'y']);
  });
});
