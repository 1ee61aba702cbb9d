// STUN/TURN servers: written on the command line, carried by invites to every member, and refused
// where they are not servers an RTCPeerConnection should be given.
import { describe, expect, it } from 'vitest';
import { iceServersProblem, MAX_ICE_SERVERS, parseIceServer, type IceServer } from './ice-servers.ts';
import { createInvite, decodeInvite, encodeInvite } from './invite.ts';

describe('ICE servers', () => {
  it('are read as STUN, TURN with credentials, or TURN over TLS', () => {
    expect(parseIceServer(' stun:stun.example.org:3478 ')).toEqual({ urls: 'stun:stun.example.org:3478' });
    expect(parseIceServer('alice:s3cr:et@turn:10.0.0.2:3478?transport=tcp')).toEqual({
      urls: 'turn:10.0.0.2:3478?transport=tcp',
      username: 'alice',
      credential: 's3cr:et',
    });
    expect(parseIceServer('bob@turns:[::1]:5349')).toEqual({ urls: 'turns:[::1]:5349', username: 'bob' });
    for (const bad of ['http://stun.example.org', 'stun:', 'stun:host/path', 'user:pw@stun:host:3478', 'turn:host:3478?transport=sctp', 'stun:a b'])
      expect(() => parseIceServer(bad), bad).toThrow(/is not an ICE server/);
  });

  it('ride in an invite to every member, and a token naming anything else is refused', async () => {
    const iceServers: IceServer[] = [{ urls: 'stun:stun.example.org:3478' }, { urls: 'turn:turn.example.org:3478', username: 'u', credential: 'p' }];
    const invite = await createInvite({ bootstrap: ['/ip4/127.0.0.1/tcp/9090/ws'], relays: ['ws://127.0.0.1:7777'], iceServers });
    expect((await decodeInvite(encodeInvite(invite))).iceServers).toEqual(iceServers);
    // Without any, the token has no field (older apps read it as before).
    const plain = await createInvite({ bootstrap: [], relays: [] });
    expect(encodeInvite({ ...plain, iceServers: [] })).toBe(encodeInvite(plain));
    expect((await decodeInvite(encodeInvite(plain))).iceServers).toBeUndefined();
    const refused = async (servers: unknown) =>
      decodeInvite(encodeInvite({ ...invite, iceServers: servers as IceServer[] })).then(
        () => 'accepted',
        (e: { code: string; message: string }) => `${e.code}: ${e.message}`,
      );
    expect(await refused([{ urls: 'javascript:alert(1)' }])).toMatch(/invite_malformed: .*STUN\/TURN server list/);
    expect(await refused(Array.from({ length: MAX_ICE_SERVERS + 1 }, () => ({ urls: 'stun:a.example:3478' })))).toMatch(/more than 4/);
    expect(await refused([{ urls: 'stun:a.example:3478', username: 'x' }])).toMatch(/STUN server with credentials/);
    expect(await refused([{ urls: 'turn:a.example:3478', extra: 1 }])).toMatch(/unknown fields/);
    expect(iceServersProblem({ urls: 'stun:a.example:3478' })).toBe('not a list');
    expect(iceServersProblem([{ urls: 'turns:a.example:5349', username: 'u', credential: 'p' }])).toBeUndefined();
  });
});
