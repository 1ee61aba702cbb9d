// The companion as the head of a public or named mesh (`npm start -- --mesh-name NAME`), beside its
// private one: the same membership, gossip and announcement as companion-mesh.ts, on keys derived
// from the name (open-mesh.ts), announced in clear (a public mesh tagged for the listing). It runs
// on a libp2p node of its own, since one node answers the membership protocol for one mesh.
import type { Relay } from 'nostr-tools/relay';
import { connectRelay } from '../discovery.ts';
import type { MeshIdentity } from '../identity.ts';
import { Announcer } from './announcer.ts';
import { MeshNode, type MeshLibp2p } from './mesh-node.ts';
import { openMeshLink, type OpenVisibility } from './open-mesh-link.ts';
import { openMeshKeys, type OpenMeshKeys } from './open-mesh.ts';

export interface OpenCompanionMeshOptions {
  readonly libp2p: MeshLibp2p;
  readonly identity: MeshIdentity;
  readonly name: string;
  readonly visibility: OpenVisibility;
  readonly appUrl: string;
  readonly nostrUrl: string;
  /** Its libp2p WebSockets address with /p2p/: what joiners dial once they read it in the announcement. */
  readonly libp2pAddress: string;
  readonly memoryBudgetBytes?: number;
  readonly models?: readonly string[];
  readonly announceTtlS?: number;
  readonly log?: (line: string) => void;
  readonly connectRelay?: (url: string) => Promise<Relay>;
}

export interface OpenCompanionMesh {
  readonly keys: OpenMeshKeys;
  /** `<app>#mesh=<name>` (named) or `<app>#public=<name>`: opens the app's Join for this mesh. */
  readonly link: string;
  readonly node: MeshNode;
  readonly announcer: Announcer;
  stop(): Promise<void>;
}

export async function startOpenCompanionMesh(o: OpenCompanionMeshOptions): Promise<OpenCompanionMesh> {
  const keys = await openMeshKeys(o.name, o.visibility);
  const self = () => ({
    role: 'server' as const,
    backend: 'node' as const,
    memoryBudgetBytes: o.memoryBudgetBytes ?? 0,
    layerTokensPerSecond: 0,
    models: (o.models ?? []).map((model) => ({ model })),
  });
  const node = new MeshNode({ libp2p: o.libp2p, mesh: keys.membership, self, ...(o.log ? { log: o.log } : {}) });
  await node.start();
  let relay: Relay | undefined;
  try {
    relay = await (o.connectRelay ?? connectRelay)(o.nostrUrl);
  } catch (error) {
    await node.stop();
    throw error;
  }
  const announcer = new Announcer({
    relay,
    identity: o.identity,
    mesh: keys.access,
    facts: () => ({ ...self(), multiaddrs: [o.libp2pAddress] }),
    ...(o.announceTtlS ? { ttlS: o.announceTtlS } : {}),
    onError: (error) => o.log?.(`mesh: announcing the ${o.visibility} mesh failed: ${(error as Error).message}`),
  });
  await announcer.start();
  return {
    keys,
    link: openMeshLink(o.appUrl, keys.access.name, o.visibility),
    node,
    announcer,
    async stop() {
      announcer.stop();
      relay.close();
      await node.stop();
    },
  };
}
