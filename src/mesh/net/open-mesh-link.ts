// Links to a public or named mesh: `<app>#public=<name>` or `<app>#mesh=<name>` (plus the invite
// link's `role` and `auto`). No secret is in them: anyone who knows the name may join. Kept apart
// from open-mesh.ts so the app's main chunk reads links without loading the relay client.
import type { PeerRole } from '../../protocol/mesh-version.ts';
import { joinFlags, linkParams } from '../invite.ts';

export type OpenVisibility = 'public' | 'named';

export interface OpenMeshRequest {
  readonly name: string;
  readonly visibility: OpenVisibility;
  readonly role?: PeerRole;
  readonly auto: boolean;
}

export function openMeshLink(appUrl: string, name: string, visibility: OpenVisibility): string {
  const url = new URL(appUrl);
  url.hash = `${visibility === 'public' ? 'public' : 'mesh'}=${encodeURIComponent(name)}`;
  return url.href;
}

/** The open mesh a link names (fragment first, then the query string), or undefined. */
export function readOpenMeshLink(link: string): OpenMeshRequest | undefined {
  for (const params of linkParams(link)) {
    const pub = params.get('public');
    const name = (pub ?? params.get('mesh') ?? '').trim();
    if (!name || name.length > 128) continue;
    return { name, visibility: pub !== null ? 'public' : 'named', ...joinFlags(params) };
  }
  return undefined;
}
