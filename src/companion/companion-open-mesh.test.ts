// `--mesh-name` on the running companion: it heads a public mesh beside its private one, on a
// libp2p node of its own, listed on its relay with its address; /companion.json tells pages the
// relay to look it up on; stopping the companion takes the open mesh down too.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listPublicMeshes, resolveOpenMesh } from '../mesh/net/open-mesh.ts';
import { startCompanion, type Companion } from './companion.ts';
import { defaultConfig } from './config.ts';

const dir = mkdtempSync(join(tmpdir(), 'companion-open-'));
let companion: Companion;

beforeAll(async () => {
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>app</title>');
  companion = await startCompanion(
    {
      ...defaultConfig(dir),
      distDir: dir,
      appPort: 0,
      nostrPort: 0,
      apiPort: 0,
      libp2pPort: 0,
      quicPort: 0,
      webTransportPort: 0,
      meshName: 'Open Lab',
      meshVisibility: 'public',
    },
    { persistKey: false },
  );
});

afterAll(async () => {
  await companion?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a companion started with --mesh-name', () => {
  it('heads the public mesh on its own libp2p node, listed on its relay, besides its private mesh', async () => {
    const open = companion.openMesh;
    // The link names the head's Nostr key: tabs follow only that head (heads are keys).
    expect(open?.link).toMatch(new RegExp(`^${companion.urls.app}/#public=open%20lab&head=[0-9a-f]{64}$`));
    expect(open!.node.selfPeerId).not.toBe(companion.libp2p.peerId.toString());
    const listing = await listPublicMeshes(companion.urls.nostr);
    expect(listing).toEqual([{ meshId: open!.keys.access.meshId, name: 'open lab', peers: 1, models: [], headed: true }]);
    const { head, invite } = await resolveOpenMesh('open lab', 'public', [companion.urls.nostr]);
    expect(head.body.peerId).toBe(open!.node.selfPeerId);
    expect(open?.link.endsWith(`&head=${head.nostrPubkey}`)).toBe(true);
    expect(invite.bootstrap[0]).toContain(`/p2p/${open!.node.selfPeerId}`);
    // The private mesh is still there, with its invite.
    expect(companion.mesh.link).toMatch(/#join=/);
    const info = (await (await fetch(`${companion.urls.app}/companion.json`)).json()) as { nostr: string };
    expect(info.nostr).toBe(companion.urls.nostr);
  });
});
