import { describe, expect, it } from 'vitest';
import { embedDecision, publishedEmbedPolicy } from './embed-policy.ts';

const APP = 'http://127.0.0.1:8080';

describe('embedDecision', () => {
  it('always lets the app embed itself', () => {
    expect(embedDecision(APP, APP, { embed_origins: [] })).toEqual({ ok: true });
  });
  it('enforces a published list', () => {
    const policy = { embed_origins: ['https://shop.example'] };
    expect(embedDecision('https://shop.example', APP, policy).ok).toBe(true);
    const refused = embedDecision('https://evil.example', APP, policy);
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.reason).toContain('--embed-origin https://evil.example');
  });
  it('accepts a wildcard, as a string or in the list', () => {
    expect(embedDecision('https://a.example', APP, { embed_origins: '*' }).ok).toBe(true);
    expect(embedDecision('https://a.example', APP, { embed_origins: ['*'] }).ok).toBe(true);
  });
  it('fails closed when no list is published (no /companion.json, or one without embed_origins)', () => {
    const refused = embedDecision('https://a.example', APP, null);
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.reason).toContain('no embed policy');
    expect(embedDecision('https://a.example', APP, {}).ok).toBe(false);
    expect(embedDecision(APP, APP, null).ok).toBe(true);
  });
  it('refuses opaque and non-http parents', () => {
    expect(embedDecision('null', APP, null).ok).toBe(false);
    expect(embedDecision('file://', APP, null).ok).toBe(false);
  });
});

describe('publishedEmbedPolicy', () => {
  it('reads companion.json and survives a missing or broken one', async () => {
    const json = (body: string, type = 'application/json') =>
      (async () => new Response(body, { headers: { 'content-type': type } })) as unknown as typeof fetch;
    expect(await publishedEmbedPolicy(APP, json('{"api":"x","embed_origins":["https://a.example"]}'))).toEqual({
      api: 'x',
      embed_origins: ['https://a.example'],
    });
    expect(await publishedEmbedPolicy(APP, json('<html>', 'text/html'))).toBeNull();
    expect(
      await publishedEmbedPolicy(APP, (async () => {
        throw new TypeError('refused');
      }) as unknown as typeof fetch),
    ).toBeNull();
  });
});
