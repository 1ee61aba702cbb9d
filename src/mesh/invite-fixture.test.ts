// Today's invites keep working: a version-1 token made by the code of December 2026 (before member
// credentials), committed as a fixture, decodes to the same mesh with every later version of the app.
import { describe, expect, it } from 'vitest';
import { toBase64Url } from './bytes.ts';
import { decodeInvite, INVITE_VERSION } from './invite.ts';
import fixture from './testing/fixtures/invite-v1.json' with { type: 'json' };

describe('a committed version-1 invite', () => {
  it('still decodes: same mesh id, secret, bootstrap, relay and model', async () => {
    const invite = await decodeInvite(fixture.token);
    expect(invite.meshId).toBe(fixture.meshId);
    expect(toBase64Url(invite.secret)).toBe(fixture.secret);
    expect(invite.bootstrap).toEqual(['/ip4/127.0.0.1/tcp/9090/ws/p2p/12D3KooWNMr2dcVqZnAvKCSDKY1p94TnBRNcdcNQnRLXhXqyX87n']);
    expect(invite.relays).toEqual(['ws://127.0.0.1:7777']);
    expect(invite.model).toBe('tiny-llama-q8_0');
    expect(INVITE_VERSION).toBeGreaterThanOrEqual(1);
  });
});
