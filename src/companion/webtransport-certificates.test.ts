// The WebTransport bridge's certificates outlive a restart: a node started again on the same state
// file serves the hashes its first run announced (so the invites given out stay good) and a tab dials
// it with them; a state file that is garbage, or whose certificate would run out before the next
// rotation, is replaced by fresh certificates.
import './testing/webtransport-global.ts';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import type { Libp2p } from '@libp2p/interface';
import { webTransport } from '@libp2p/webtransport';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { linkType } from '../mesh/net/link-type.ts';
import { webTransportCertificate } from './tls.ts';
import { loadCertificates, saveCertificates } from './webtransport-certificates.ts';
import { webTransportListenAddress, webTransportListener } from './webtransport-listener.ts';

const gater = { denyDialMultiaddr: () => false };
const DAY = 24 * 3600_000;
const dir = await mkdtemp(join(tmpdir(), 'wt-certs-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

async function bridge(stateFile: string): Promise<Libp2p> {
  return createLibp2p({
    addresses: { listen: [webTransportListenAddress('127.0.0.1', 0)] },
    transports: [webTransportListener({ stateFile })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: gater,
  });
}

const hashesOf = (node: Libp2p) =>
  (
    node
      .getMultiaddrs()
      .map(String)
      .find((a) => a.includes('/webtransport/')) ?? ''
  ).match(/certhash\/u[\w-]+/g) ?? [];

describe('WebTransport certificates across restarts', () => {
  it('a restarted node serves the hashes it announced before, and a tab dials it with them', async () => {
    const stateFile = join(dir, 'kept.json');
    const first = await bridge(stateFile);
    const announced = hashesOf(first);
    await first.stop();
    expect(announced).toHaveLength(2);

    const again = await bridge(stateFile);
    const tab = await createLibp2p({ transports: [webTransport()], connectionEncrypters: [noise()], streamMuxers: [yamux()], connectionGater: gater });
    try {
      expect(hashesOf(again)).toEqual(announced);
      // The address as an old invite has it (the first run's hashes), at the new run's port.
      const address = (
        again
          .getMultiaddrs()
          .map(String)
          .find((a) => a.includes('/webtransport/')) ?? ''
      ).replace(/(\/certhash\/u[\w-]+)+/, announced.map((h) => `/${h}`).join(''));
      const connection = await tab.dial(multiaddr(address));
      expect(linkType(connection.remoteAddr.toString())).toBe('webtransport');
    } finally {
      await tab.stop();
      await again.stop();
    }
  });

  it('makes new certificates where the kept ones are garbage or would run out before the next rotation', async () => {
    const garbage = join(dir, 'garbage.json');
    await writeFile(garbage, '{"certificates": [{"cert": "x", "key": "y"}, 3], "rotatedAt": 1}');
    const node = await bridge(garbage);
    const hashes = hashesOf(node);
    await node.stop();
    expect(hashes).toHaveLength(2);
    // Replaced by the fresh pair, which a restart then keeps.
    expect(JSON.parse(await readFile(garbage, 'utf8')).certificates).toHaveLength(2);
    const again = await bridge(garbage);
    expect(hashesOf(again)).toEqual(hashes);
    await again.stop();

    // Both made 10 days ago (valid 12): the next one would go into use now and expire before the
    // rotation after (6 days on).
    const now = Date.now();
    const old = join(dir, 'old.json');
    await saveCertificates(old, [await webTransportCertificate([], now - 10 * DAY), await webTransportCertificate([], now - 10 * DAY)], now - 10 * DAY);
    expect(await loadCertificates(old, now, 6 * DAY)).toBeUndefined();
    // Rotated 10 days ago with a next one made for 4 days ago: overdue, so kept and rotated at once.
    const overdue = join(dir, 'overdue.json');
    await saveCertificates(overdue, [await webTransportCertificate([], now - 10 * DAY), await webTransportCertificate([], now - 4 * DAY)], now - 10 * DAY);
    expect((await loadCertificates(overdue, now, 6 * DAY))?.rotatedAt).toBe(now - 10 * DAY);
    // The same pair two days after it was made is kept.
    const fresh = join(dir, 'fresh.json');
    await saveCertificates(fresh, [await webTransportCertificate([], now - 2 * DAY), await webTransportCertificate([], now + 4 * DAY)], now - 2 * DAY);
    expect((await loadCertificates(fresh, now, 6 * DAY))?.rotatedAt).toBe(now - 2 * DAY);
  });
});
