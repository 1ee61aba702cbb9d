import { describe, expect, it } from 'vitest';
import { fetchCompanionHealth, parseHealth } from './companion-health.ts';

describe('companion health', () => {
  it('parses the models the companion serves and ignores malformed entries', () => {
    const health = parseHealth('http://x', {
      version: '0.1.0',
      uptime_s: 12,
      models: [{ id: 'tiny', backend: 'cpu', layers: 4, context_length: 512 }, { nope: 1 }],
    });
    expect(health).toEqual({ url: 'http://x', version: '0.1.0', uptimeS: 12, models: [{ id: 'tiny', backend: 'cpu', layers: 4, contextLength: 512 }] });
    expect(parseHealth('http://x', null).models).toEqual([]);
  });
  it('parses what the stage checks found, for the Dashboard', () => {
    const health = parseHealth('http://x', {
      models: [],
      stage_checks: { mode: 'checked', checks: 9, mismatches: 1, refused: 0, quarantined: [{ peerId: 'p', reason: 'off', until: 5 }, { bad: true }] },
    });
    expect(health.stageChecks).toEqual({ mode: 'checked', checks: 9, mismatches: 1, refused: 0, quarantined: [{ peerId: 'p', reason: 'off', until: 5 }] });
    expect(parseHealth('http://x', {}).stageChecks).toBeUndefined();
  });
  it('sends the token and reports a failing status', async () => {
    let auth: string | null = null;
    const ok = (async (_url: string, init: RequestInit) => {
      auth = new Headers(init.headers).get('authorization');
      return Response.json({ models: [] });
    }) as unknown as typeof fetch;
    await fetchCompanionHealth({ url: 'http://x', token: 't' }, ok);
    expect(auth).toBe('Bearer t');
    const down = (async () => new Response('', { status: 500 })) as unknown as typeof fetch;
    await expect(fetchCompanionHealth({ url: 'http://x' }, down)).rejects.toThrow(/500/);
  });
});
