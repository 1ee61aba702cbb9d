import { describe, expect, it } from 'vitest';
import { fromBase64Url, toBase64Url } from './bytes.ts';
import { createInvite, decodeInvite, encodeInvite, inviteLink, readJoinLink, type Invite } from './invite.ts';

const where = { bootstrap: ['/ip4/127.0.0.1/tcp/4002/ws/p2p/12D3KooWNMr2dcVqZnAvKCSDKY1p94TnBRNcdcNQnRLXhXqyX87n'], relays: ['ws://127.0.0.1:4869'] };

async function rejects(token: string): Promise<string> {
  try {
    await decodeInvite(token);
  } catch (error) {
    return (error as { code: string }).code;
  }
  return 'accepted';
}

describe('invite tokens', () => {
  it('round-trip with and without a model, URL-safe', async () => {
    const invite = await createInvite({ ...where, model: 'tiny-llama-f32' });
    const token = encodeInvite(invite);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(await decodeInvite(token)).toEqual(invite);
    const { model: _, ...noModel } = invite;
    expect(await decodeInvite(` ${encodeInvite(noModel)}\n`)).toEqual(noModel);
  });

  it('rejects every truncation and every single-character change with a clear error', async () => {
    const token = encodeInvite(await createInvite(where));
    for (let cut = 0; cut < token.length; cut += 7) {
      expect(await rejects(token.slice(0, cut))).not.toBe('accepted');
    }
    for (let i = 0; i < token.length; i += 5) {
      const swapped = token.slice(0, i) + (token[i] === 'A' ? 'B' : 'A') + token.slice(i + 1);
      expect(await rejects(swapped), `changed character ${i}`).not.toBe('accepted');
    }
    expect(await rejects('')).toBe('invite_empty');
    expect(await rejects('not a token!')).toBe('invite_not_base64');
    expect(await rejects('AQID')).toBe('invite_truncated');
  });

  it('names the version and a secret that does not match its mesh id', async () => {
    const invite = await createInvite(where);
    const bytes = fromBase64Url(encodeInvite(invite))!;
    bytes[0] = 2;
    expect(await rejects(toBase64Url(bytes))).toBe('invite_checksum');
    bytes[0] = 1;
    expect(await rejects(toBase64Url(bytes))).toBe('accepted');
    // A well-formed token of a future version (valid checksum) says so.
    const future = fromBase64Url(encodeInvite(invite))!;
    future[0] = 2;
    const { crc32 } = await import('./bytes.ts');
    new DataView(future.buffer).setUint32(future.length - 4, crc32(future.subarray(0, future.length - 4)));
    await expect(decodeInvite(toBase64Url(future))).rejects.toMatchObject({ code: 'invite_version', message: expect.stringContaining('update') });
    const other = await createInvite(where);
    const mixed: Invite = { ...invite, secret: other.secret };
    expect(await rejects(encodeInvite(mixed))).toBe('invite_mesh_mismatch');
    expect(await rejects(encodeInvite({ ...invite, relays: ['http://example.com'] }))).toBe('invite_malformed');
    expect(await rejects(encodeInvite({ ...invite, secret: new Uint8Array(8) }))).toBe('invite_malformed');
  });
});

describe('invite links', () => {
  it('carry the token in the fragment with role and auto-join', async () => {
    const token = encodeInvite(await createInvite(where));
    const link = inviteLink('http://127.0.0.1:8080', token, { role: 'server', auto: true });
    expect(link).toBe(`http://127.0.0.1:8080/#join=${token}&role=server&auto=1`);
    expect(new URL(link).search).toBe('');
    expect(readJoinLink(link)).toEqual({ token, role: 'server', auto: true });
    expect(readJoinLink(inviteLink('https://mesh.example/app/', token))).toEqual({ token, auto: false });
    expect(readJoinLink(`http://127.0.0.1:8080/?join=${token}&role=client`)).toEqual({ token, role: 'client', auto: false });
    expect(readJoinLink(`http://127.0.0.1:8080/#join=${token}&role=admin`)).toEqual({ token, auto: false });
    expect(readJoinLink('http://127.0.0.1:8080/#about')).toBeUndefined();
    expect(readJoinLink('not a url')).toBeUndefined();
  });
});
