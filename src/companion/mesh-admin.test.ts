// The owner's mesh routes on a companion started with --require-credentials: the printed invite
// carries a credential and admits its holder, the bare mesh invite does not; POST /mesh/invites
// makes an invite that admits another member; POST /mesh/revoke drops a member; bad bodies are 400s
// in the OpenAI shape, and off loopback the routes take the API's token.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentity } from '../mesh/identity.ts';
import { decodeInvite, type Invite } from '../mesh/invite.ts';
import { PeerNode } from '../mesh/net/peer-node.ts';
import type { ApiContext } from './api-server.ts';
import { meshAdminRoutes } from './mesh-admin.ts';
import { startTestCompanion, type TestCompanion } from './testing/companion.ts';

async function until(what: string, probe: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const tokenOf = (link: string) => new URL(link).hash.replace(/^#join=/, '');

describe('mesh admin routes', () => {
  let t: TestCompanion;
  const peers: PeerNode[] = [];
  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${t.companion.urls.api}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  const join = async (invite: Invite) => {
    const peer = new PeerNode({ identity: await createIdentity(), invite, role: 'client', backend: 'wasm', memoryBudgetBytes: 0, webrtc: false });
    peers.push(peer);
    await peer.start();
    return peer;
  };
  const idOf = (p: PeerNode) => p.snapshot().peerId;

  beforeAll(async () => {
    t = await startTestCompanion({ requireCredentials: true });
  });
  afterAll(async () => {
    for (const p of peers) await p.stop().catch(() => {});
    await t?.stop();
  });

  it('admits the printed invite and a new one, refuses the bare one, and revokes', async () => {
    const head = t.companion.mesh;
    const printed = await decodeInvite(tokenOf(t.companion.invite));
    expect(printed.credential).toBeDefined();
    const a = await join(printed);
    const res = await post('/mesh/invites', JSON.stringify({ ttl_s: 3600 }));
    expect(res.status).toBe(200);
    const issued = (await res.json()) as { link: string; token: string; credential_id: string; expires_at: number };
    expect(issued.expires_at).toBeGreaterThan(Date.now() / 1000 + 3500);
    const b = await join(await decodeInvite(issued.token));
    const bare = await join(head.invite);
    await until('a and b admitted', () => head.node.isMember(idOf(a)) && head.node.isMember(idOf(b)));
    await until('the bare invite refused', () => head.node.refusedList().some((r) => r.peerId === idOf(bare)));
    expect(head.node.isMember(idOf(bare))).toBe(false);

    const revoked = await post('/mesh/revoke', JSON.stringify({ peers: [idOf(b)] }));
    expect(revoked.status).toBe(200);
    expect(await revoked.json()).toEqual({ revoked: { peers: [idOf(b)], credentials: [] } });
    await until('b dropped', () => !head.node.isMember(idOf(b)));
    expect(head.node.isMember(idOf(a))).toBe(true);
  }, 90_000);

  it('answers bad bodies with 400s in the OpenAI shape', async () => {
    const cases: [string, string, RegExp][] = [
      ['/mesh/invites', JSON.stringify({ ttl_s: 5 }), /ttl_s must be a whole number of seconds from 60/],
      ['/mesh/invites', JSON.stringify({ ttl_s: '3600' }), /ttl_s must be/],
      ['/mesh/invites', '{not json', /not JSON/],
      ['/mesh/invites', '[1]', /JSON object/],
      ['/mesh/invites', JSON.stringify({ ttl_s: 3600, pad: 'x'.repeat(20_000) }), /over 16384 bytes/],
      ['/mesh/revoke', JSON.stringify({}), /at least one peer id/],
      ['/mesh/revoke', JSON.stringify({ peers: [42] }), /peers must be an array/],
      ['/mesh/rotate', JSON.stringify({ keep: 'all', ttl_s: 3600 }), /keep must be an array/],
    ];
    for (const [path, body, message] of cases) {
      const res = await post(path, body);
      expect(res.status, `${path} ${body.slice(0, 40)}`).toBe(400);
      const error = ((await res.json()) as { error: { message: string; type: string; code: string } }).error;
      expect(error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_mesh_admin_request' });
      expect(error.message).toMatch(message);
    }
    expect((await fetch(`${t.companion.urls.api}/mesh/invites`)).status).toBe(405);
  });

  it('take the API token where one is set', async () => {
    const [invites] = meshAdminRoutes(t.companion.mesh, 'secret-token');
    const answers: number[] = [];
    const res = {
      statusCode: 0,
      headersSent: false,
      setHeader() {},
      writeHead(status: number) {
        answers.push(status);
        return this;
      },
      end() {},
    };
    const req = Object.assign((async function* () {})(), { headers: {}, resume() {} });
    await invites.handle({ req, res, url: new URL('http://x/mesh/invites') } as unknown as ApiContext);
    expect(answers).toEqual([401]);
  });
});
