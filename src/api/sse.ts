// Server-sent events as the SDKs read them: a pull-driven ReadableStream (so a slow client slows
// generation instead of buffering it) whose cancellation stops the generation behind it.
export function sseData(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\n\n`;
}

export function sseEvent(name: string, payload: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(payload)}\n\n`;
}

export const SSE_HEADERS: Record<string, string> = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-store',
  'x-accel-buffering': 'no',
};

/** A streaming response from frames produced one by one; `onCancel` runs when the client goes away. */
export function sseResponse(frames: AsyncGenerator<string, void, void>, headers: Record<string, string>, onCancel: () => void): Response {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const next = await frames.next();
          if (next.done) controller.close();
          else controller.enqueue(encoder.encode(next.value));
        } catch (e) {
          onCancel();
          controller.error(e);
        }
      },
      cancel() {
        onCancel();
        frames.return().catch(() => {});
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(body, { status: 200, headers: { ...SSE_HEADERS, ...headers } });
}
