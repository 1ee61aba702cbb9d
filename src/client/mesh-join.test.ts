// The app's side of public and named meshes that runs without a browser: where the companion's relay is.
import { describe, expect, it } from 'vitest';
import { backendOf, companionRelay, parseRelayList } from './mesh-join.ts';

const answer = (body: unknown, type = 'application/json') =>
  (async () => new Response(JSON.stringify(body), { headers: { 'content-type': type } })) as unknown as typeof fetch;

describe('companionRelay', () => {
  it('reads the relay from /companion.json, and nothing from a missing, odd or non-JSON answer', async () => {
    expect(await companionRelay('http://127.0.0.1:8080', answer({ api: 'http://127.0.0.1:9337', nostr: 'ws://127.0.0.1:7777' }))).toBe('ws://127.0.0.1:7777');
    expect(await companionRelay('http://127.0.0.1:8080', answer({ nostr: 'wss://192.168.1.4:7777' }))).toBe('wss://192.168.1.4:7777');
    expect(await companionRelay('http://127.0.0.1:8080', answer({ api: 'http://127.0.0.1:9337' }))).toBeUndefined();
    expect(await companionRelay('http://127.0.0.1:8080', answer({ nostr: 'javascript:alert(1)' }))).toBeUndefined();
    expect(await companionRelay('http://127.0.0.1:8080', answer('<html>', 'text/html'))).toBeUndefined();
    expect(
      await companionRelay('http://127.0.0.1:8080', (async () => {
        throw new TypeError('offline');
      }) as unknown as typeof fetch),
    ).toBeUndefined();
  });
});

describe('parseRelayList', () => {
  it('takes ws and wss URLs, comma or space separated, once each, and names what is not one', () => {
    expect(parseRelayList('')).toEqual([]);
    expect(parseRelayList(' ws://127.0.0.1:7777, wss://relay.example/  ws://127.0.0.1:7777 ')).toEqual(['ws://127.0.0.1:7777', 'wss://relay.example']);
    expect(() => parseRelayList('ws://a:1 https://relay.example')).toThrow(/“https:\/\/relay.example” is not a relay address/);
    expect(() => parseRelayList('relay.example')).toThrow(/not a relay address/);
  });
});

describe('backendOf', () => {
  it('reads the backend a link pins a server tab to, from the fragment or the query, and ignores anything else', () => {
    expect(backendOf('http://127.0.0.1:8080/#join=abc&role=server&backend=webgpu')).toBe('webgpu');
    expect(backendOf('http://127.0.0.1:8080/?backend=wasm#join=abc')).toBe('wasm');
    expect(backendOf('http://127.0.0.1:8080/#join=abc&backend=auto')).toBe('auto');
    expect(backendOf('http://127.0.0.1:8080/#join=abc&backend=cuda')).toBeUndefined();
    expect(backendOf('http://127.0.0.1:8080/#join=abc')).toBeUndefined();
  });
});
