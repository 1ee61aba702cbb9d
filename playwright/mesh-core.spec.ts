// The mesh core runs in Chromium as in Node: identity kept in IndexedDB across reloads, and
// announcements, invites and membership proofs made in the page check out in Node (and back).
import { expect, test } from '@playwright/test';
import { createServer, type ViteDevServer } from 'vite';
import { validateAnnouncement } from '../src/mesh/announce.ts';
import { createIdentity, createPeerProof } from '../src/mesh/identity.ts';
import { decodeInvite } from '../src/mesh/invite.ts';
import { openMesh } from '../src/mesh/mesh-keys.ts';
import { fromBase64Url } from '../src/mesh/bytes.ts';
import { proveMembership } from '../src/mesh/membership.ts';

let server: ViteDevServer;
let base: string;

test.beforeAll(async () => {
  server = await createServer({
    configFile: false,
    root: new URL('..', import.meta.url).pathname,
    logLevel: 'error',
    server: { host: '127.0.0.1', port: 0, hmr: false },
  });
  await server.listen();
  const address = server.httpServer!.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

test.afterAll(async () => {
  await server?.close();
});

test('identity persists in IndexedDB and the page’s announcements, invites and proofs check out in Node', async ({ page }) => {
  await page.goto(`${base}/playwright/support/mesh-blank.html`);
  const load = () =>
    page.evaluate(async () => {
      const { loadOrCreateIdentity } = await import('/src/mesh/identity.ts' as string);
      const { IdbIdentityStore } = await import('/src/mesh/identity-store-idb.ts' as string);
      const store = new IdbIdentityStore('mesh-core-spec');
      const loaded = await loadOrCreateIdentity(store);
      await store.close();
      return { peerId: loaded.identity.peerId as string, created: loaded.created as boolean };
    });
  const first = await load();
  expect(first.created).toBe(true);
  await page.reload();
  const second = await load();
  expect(second).toEqual({ peerId: first.peerId, created: false });

  const fromPage = await page.evaluate(async () => {
    const { loadOrCreateIdentity } = await import('/src/mesh/identity.ts' as string);
    const { IdbIdentityStore } = await import('/src/mesh/identity-store-idb.ts' as string);
    const { createAnnouncement } = await import('/src/mesh/announce.ts' as string);
    const { createInvite, encodeInvite, inviteLink, readJoinLink } = await import('/src/mesh/invite.ts' as string);
    const { openMesh } = await import('/src/mesh/mesh-keys.ts' as string);
    const { toBase64Url } = await import('/src/mesh/bytes.ts' as string);
    const { identity } = await loadOrCreateIdentity(new IdbIdentityStore('mesh-core-spec'));
    const invite = await createInvite({ bootstrap: ['/ip4/127.0.0.1/tcp/4002/ws'], relays: ['ws://127.0.0.1:4869'] });
    const token = encodeInvite(invite);
    const link = inviteLink(location.origin, token, { role: 'server', auto: true });
    const mesh = await openMesh({ visibility: 'private', secret: invite.secret });
    const event = await createAnnouncement(identity, mesh, {
      multiaddrs: [],
      role: 'server',
      backend: 'wasm',
      memoryBudgetBytes: 1 << 28,
      layerTokensPerSecond: 50,
      models: [],
    });
    return { token, link, joined: readJoinLink(link), event, secret: toBase64Url(invite.secret), peerId: identity.peerId as string };
  });
  expect(fromPage.peerId).toBe(first.peerId);
  expect(fromPage.joined).toEqual({ token: fromPage.token, role: 'server', auto: true });
  const invite = await decodeInvite(fromPage.token);
  const mesh = await openMesh({ visibility: 'private', secret: fromBase64Url(fromPage.secret)! });
  expect(invite.meshId).toBe(mesh.meshId);
  const checked = await validateAnnouncement(fromPage.event, mesh);
  expect(checked).toMatchObject({ ok: true, value: { body: { peerId: first.peerId, backend: 'wasm' } } });

  // Node proves membership and shows a peer proof; the page verifies both.
  const node = await createIdentity();
  if (mesh.visibility !== 'private') throw new Error('unreachable');
  const challenge = [...crypto.getRandomValues(new Uint8Array(32))];
  const proof = [...(await proveMembership(mesh, { proverPeerId: node.peerId, verifierPeerId: first.peerId, challenge: Uint8Array.from(challenge) }))];
  const peerProof = await createPeerProof(node);
  const verdict = await page.evaluate(
    async ({ secret, nodePeerId, pagePeerId, challenge, proof, peerProof }) => {
      const { openMesh } = await import('/src/mesh/mesh-keys.ts' as string);
      const { fromBase64Url } = await import('/src/mesh/bytes.ts' as string);
      const { verifyMembership } = await import('/src/mesh/membership.ts' as string);
      const { verifyPeerProof } = await import('/src/mesh/identity.ts' as string);
      const mesh = await openMesh({ visibility: 'private', secret: fromBase64Url(secret) });
      const context = { proverPeerId: nodePeerId, verifierPeerId: pagePeerId, challenge: Uint8Array.from(challenge) };
      const forged = Uint8Array.from(proof);
      forged[0] ^= 1;
      return {
        member: await verifyMembership(mesh, context, Uint8Array.from(proof)),
        forged: await verifyMembership(mesh, context, forged),
        peer: (await verifyPeerProof(peerProof, nodePeerId)).ok,
      };
    },
    { secret: fromPage.secret, nodePeerId: node.peerId, pagePeerId: first.peerId, challenge, proof, peerProof },
  );
  expect(verdict).toEqual({ member: true, forged: false, peer: true });
});
