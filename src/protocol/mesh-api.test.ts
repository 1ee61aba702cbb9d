// The mesh API stream's frames: valid ones round-trip, each side may send only its own kinds, and
// malformed or oversized frames are rejected with a reason, never thrown.
import { describe, expect, it } from 'vitest';
import { encodeApiFrame, MAX_API_BODY_BYTES, MAX_API_CHUNK_BYTES, readApiFrame, type ApiStreamFrame } from './mesh-api.ts';

const request: ApiStreamFrame = {
  kind: 'request',
  method: 'POST',
  path: '/v1/chat/completions',
  headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
  bodyBytes: 42,
};
const response: ApiStreamFrame = {
  kind: 'response',
  status: 404,
  headers: { 'content-type': 'application/json; charset=utf-8', 'x-mesh-served-by': 'a;layers=0-2' },
};
const body: ApiStreamFrame = { kind: 'body', bytes: new TextEncoder().encode('data: {}\n\n') };

const json = (kind: number, value: unknown) => {
  const text = new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));
  return Uint8Array.of(kind, ...text);
};

describe('mesh API stream frames', () => {
  it('round-trips each kind from the side that sends it', () => {
    expect(readApiFrame(encodeApiFrame(request), 'client')).toEqual({ ok: true, value: request });
    expect(readApiFrame(encodeApiFrame({ ...request, method: 'GET', path: '/v1/models?x=1', headers: {}, bodyBytes: 0 }), 'client').ok).toBe(true);
    expect(readApiFrame(encodeApiFrame(response), 'head')).toEqual({ ok: true, value: response });
    expect(readApiFrame(encodeApiFrame(body), 'client')).toEqual({ ok: true, value: body });
    expect(readApiFrame(encodeApiFrame(body), 'head')).toEqual({ ok: true, value: body });
    expect(readApiFrame(encodeApiFrame({ kind: 'end' }), 'head')).toEqual({ ok: true, value: { kind: 'end' } });
  });

  it('refuses kinds the other side sends', () => {
    expect(readApiFrame(encodeApiFrame(response), 'client')).toMatchObject({ ok: false, reason: 'a client does not send response frames' });
    expect(readApiFrame(encodeApiFrame(request), 'head')).toMatchObject({ ok: false, reason: 'a head does not send request frames' });
    expect(readApiFrame(encodeApiFrame({ kind: 'end' }), 'client')).toMatchObject({ ok: false });
  });

  it('rejects malformed frames with a reason', () => {
    const cases: [unknown, 'client' | 'head', RegExp][] = [
      ['text', 'client', /at least one byte/],
      [new Uint8Array(0), 'client', /at least one byte/],
      [Uint8Array.of(9), 'client', /unknown API stream frame kind 9/],
      [Uint8Array.of(2), 'client', /at least one byte/],
      [Uint8Array.of(3, 0), 'head', /holds nothing/],
      [Uint8Array.of(1, 0xff, 0xfe), 'client', /not UTF-8 JSON/],
      [json(1, '{"method":'), 'client', /not UTF-8 JSON/],
      [json(1, []), 'client', /request must be an object/],
      [json(1, { ...request, kind: undefined, method: 'DELETE' }), 'client', /method must be one of GET, HEAD, POST/],
      [json(1, { ...request, path: '/admin' }), 'client', /API path under \/v1/],
      [json(1, { ...request, path: '/v1/models has spaces' }), 'client', /API path under \/v1/],
      [json(1, { ...request, path: '/v1/models#x' }), 'client', /fragment/],
      [json(1, { ...request, path: `/v1/${'a'.repeat(3000)}` }), 'client', /longer than 2048/],
      [json(1, { ...request, bodyBytes: MAX_API_BODY_BYTES + 1 }), 'client', /bodyBytes must be between/],
      [json(1, { ...request, bodyBytes: -1 }), 'client', /bodyBytes must be between/],
      [json(1, { ...request, bodyBytes: 1.5 }), 'client', /integer/],
      [json(1, { ...request, headers: { 'Content-Type': 'x' } }), 'client', /not lowercase/],
      [json(1, { ...request, headers: { a: 'line\nbreak' } }), 'client', /printable ASCII/],
      [json(1, { ...request, headers: { a: 5 } }), 'client', /must be a string/],
      [json(1, { ...request, headers: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`h${i}`, 'v'])) }), 'client', /at most 32/],
      [json(1, '{"__proto__":{"x":1},"method":"GET"}'), 'client', /forbidden key/],
      [json(4, { status: 99, headers: {} }), 'head', /status must be between 200 and 599/],
      [json(4, { status: 200 }), 'head', /headers must be an object/],
    ];
    for (const [bytes, from, reason] of cases) {
      const result = readApiFrame(bytes, from);
      expect(result.ok, String(reason)).toBe(false);
      if (!result.ok) expect(result.reason).toMatch(reason);
    }
  });

  it('refuses a frame over the size limit before reading it', () => {
    const big = new Uint8Array(MAX_API_CHUNK_BYTES + 2);
    big[0] = 2;
    expect(readApiFrame(big, 'head')).toMatchObject({ ok: false, code: 'too_large' });
    const full = new Uint8Array(MAX_API_CHUNK_BYTES + 1);
    full[0] = 2;
    expect(readApiFrame(full, 'head').ok).toBe(true);
  });
});
