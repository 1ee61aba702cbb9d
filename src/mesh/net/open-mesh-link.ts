// Links to a public or named mesh: `<app>#public=<name>` or `<app>#mesh=<name>` (plus the invite
// link's `role` and `auto`), and `&head=<npub or hex>`: the head's Nostr key, so a tab follows only
// the head that key signs for (open-mesh.ts pickHead), not whoever announces the name. No secret is
// in them: anyone who knows the name may join. Kept apart from open-mesh.ts so the app's main chunk
// reads links without loading the relay client.
import type { PeerRole } from '../../protocol/mesh-version.ts';
import { parseHeadKey } from '../head-key.ts';
import { joinFlags, linkParams } from '../invite.ts';

export type OpenVisibility = 'public' | 'named';

export interface OpenMeshRequest {
  readonly name: string;
  readonly visibility: OpenVisibility;
  readonly role?: PeerRole;
  readonly auto: boolean;
  /** The head's Nostr key (hex) the link names; absent: the link names none, the head is unauthenticated. */
  readonly head?: string;
  /** The link has a `head=` that is neither an npub nor 64 hex characters: joining is refused, not done unauthenticated. */
  readonly badHead?: string;
}

export function openMeshLink(appUrl: string, name: string, visibility: OpenVisibility, head?: string): string {
  const url = new URL(appUrl);
  url.hash = `${visibility === 'public' ? 'public' : 'mesh'}=${encodeURIComponent(name)}${head ? `&head=${head}` : ''}`;
  return url.href;
}

/** The open mesh a link names (fragment first, then the query string), or undefined. */
export function readOpenMeshLink(link: string): OpenMeshRequest | undefined {
  for (const params of linkParams(link)) {
    const pub = params.get('public');
    const name = (pub ?? params.get('mesh') ?? '').trim();
    if (!name || name.length > 128) continue;
    const raw = params.get('head');
    const head = parseHeadKey(raw);
    return {
      name,
      visibility: pub !== null ? 'public' : 'named',
      ...joinFlags(params),
      ...(head ? { head } : raw !== null ? { badHead: raw.slice(0, 80) } : {}),
    };
  }
  return undefined;
}
