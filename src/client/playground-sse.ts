// Incremental server-sent-events reader for the playground: yields each event as soon as its blank
// line arrives, whatever the network's chunking (a frame may be split anywhere, even inside UTF-8).

export interface SseEvent {
  /** The `event:` field, or 'message' when absent. */
  event: string;
  /** The `data:` lines joined with newlines. */
  data: string;
}

export async function* readSse(body: ReadableStream<Uint8Array>, signal?: AbortSignal): AsyncGenerator<SseEvent, void, void> {
  const reader = body.getReader();
  const decoder = new TextDecoder(); // stream: true keeps a character split across chunks whole
  const parser = new SseParser();
  try {
    for (;;) {
      if (signal?.aborted) return;
      const { value, done } = await reader.read();
      if (done) break;
      yield* parser.push(decoder.decode(value, { stream: true }));
    }
    yield* parser.push(`${decoder.decode()}\n\n`); // a last event without its blank line still counts
  } finally {
    reader.cancel().catch(() => {});
  }
}

/** The line-level state machine, separate from streams so tests can feed it arbitrary splits. */
export class SseParser {
  #buffer = '';
  #event = '';
  #data: string[] = [];

  *push(text: string): Generator<SseEvent, void, void> {
    this.#buffer += text;
    for (;;) {
      const end = this.#buffer.search(/\r\n|\r|\n/);
      if (end < 0) return;
      // A lone \r at the very end may be the first half of \r\n: wait for the next chunk.
      if (this.#buffer[end] === '\r' && end === this.#buffer.length - 1) return;
      const line = this.#buffer.slice(0, end);
      this.#buffer = this.#buffer.slice(end + (this.#buffer.startsWith('\r\n', end) ? 2 : 1));
      const event = this.#line(line);
      if (event) yield event;
    }
  }

  #line(line: string): SseEvent | null {
    if (line === '') {
      if (!this.#data.length) {
        this.#event = '';
        return null;
      }
      const event = { event: this.#event || 'message', data: this.#data.join('\n') };
      this.#event = '';
      this.#data = [];
      return event;
    }
    if (line.startsWith(':')) return null; // comment / keep-alive
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.#data.push(value);
    else if (field === 'event') this.#event = value;
    return null;
  }
}
