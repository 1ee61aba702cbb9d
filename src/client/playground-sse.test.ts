import { describe, expect, it } from 'vitest';
import { readSse, SseParser, type SseEvent } from './playground-sse.ts';

const FRAMES = 'data: {"a":1}\n\n: keep-alive\n\nevent: ping\ndata: x\ndata: y\n\r\ndata: [DONE]\n\n';
const EXPECTED: SseEvent[] = [
  { event: 'message', data: '{"a":1}' },
  { event: 'ping', data: 'x\ny' },
  { event: 'message', data: '[DONE]' },
];

describe('SseParser', () => {
  it('reads events whatever the chunk boundaries', () => {
    for (let cut = 0; cut <= FRAMES.length; cut++) {
      const parser = new SseParser();
      const events = [...parser.push(FRAMES.slice(0, cut)), ...parser.push(FRAMES.slice(cut))];
      expect(events, `cut at ${cut}`).toEqual(EXPECTED);
    }
  });

  it('yields an event only once its blank line has arrived', () => {
    const parser = new SseParser();
    expect([...parser.push('data: partial\n')]).toEqual([]);
    expect([...parser.push('\n')]).toEqual([{ event: 'message', data: 'partial' }]);
  });

  it('treats CR LF split across chunks as one line end', () => {
    const parser = new SseParser();
    expect([...parser.push('data: a\r')]).toEqual([]);
    expect([...parser.push('\n\r\n')]).toEqual([{ event: 'message', data: 'a' }]);
  });
});

describe('readSse', () => {
  it('decodes UTF-8 split inside a character and streams events as they complete', async () => {
    const bytes = new TextEncoder().encode('data: héllo 🙂\n\ndata: last');
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const b of bytes) controller.enqueue(new Uint8Array([b]));
        controller.close();
      },
    });
    const events: SseEvent[] = [];
    for await (const event of readSse(body)) events.push(event);
    expect(events).toEqual([
      { event: 'message', data: 'héllo 🙂' },
      { event: 'message', data: 'last' },
    ]);
  });
});
