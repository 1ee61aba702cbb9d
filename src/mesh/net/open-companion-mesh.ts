// The companion as the head of a public or named mesh (`npm start -- --mesh-name NAME`), beside its
// private one: the same membership, gossip and announcement as companion-mesh.ts, on keys derived
// from the name (open-mesh.ts), announced in clear (a public mesh tagged for the listing). It runs
// on a libp2p node of its own, since one node answers the membership protocol for one mesh.
import { startMeshHead, type MeshHead, type MeshHeadOptions } from './companion-mesh.ts';
import { openMeshLink, type OpenVisibility } from './open-mesh-link.ts';
import { openMeshKeys, type OpenMeshKeys } from './open-mesh.ts';

export interface OpenCompanionMeshOptions extends MeshHeadOptions {
  readonly name: string;
  readonly visibility: OpenVisibility;
}

export interface OpenCompanionMesh extends MeshHead {
  readonly keys: OpenMeshKeys;
  /** `<app>#mesh=<name>&head=<key>` (named) or `<app>#public=<name>&head=<key>`: opens the app's Join for this mesh, following only this head. */
  readonly link: string;
}

export async function startOpenCompanionMesh(o: OpenCompanionMeshOptions): Promise<OpenCompanionMesh> {
  const keys = await openMeshKeys(o.name, o.visibility);
  const head = await startMeshHead(o, keys.membership, keys.access, `announcing the ${o.visibility} mesh failed`);
  return { keys, link: openMeshLink(o.appUrl, keys.access.name, o.visibility, o.identity.nostrPubkey), ...head };
}
