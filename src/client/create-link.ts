// The link that makes a tab create and head a private mesh:
//   #create=private&model=<absolute URL of a .gguf>&role=server|client&auto=1&budget=…[&relay=<ws(s) URL>]
//   [&ice=<STUN/TURN servers, comma-separated, as --ice-server writes them>: the mesh's invite carries them]
// auto=1 creates it at load, but only for a model on the app's own origin: a link could otherwise
// make a tab fetch and serve whatever file a stranger names, so any other origin waits for a click.
import { type IceServer, MAX_ICE_SERVERS, parseIceServer } from '../mesh/ice-servers.ts';
import { joinFlags, linkParams } from '../mesh/invite.ts';
import type { PeerRole } from '../protocol/mesh-version.ts';
import { CreateLinkError, headModel, type HeadModel } from './head-model.ts';
import { budgetOf } from './mesh-join.ts';

export { CreateLinkError, headModel, type HeadModel } from './head-model.ts';

export interface CreateRequest {
  readonly model: HeadModel;
  readonly role: PeerRole;
  /** Create at load, without a click: asked for (auto=1) and the model is on the app's own origin. */
  readonly auto: boolean;
  /** auto=1 was asked for but refused: why (the UI shows it beside the Create button). */
  readonly needsClick?: string;
  readonly budgetBytes?: number;
  readonly relay?: string;
  /** STUN/TURN servers for the members' WebRTC links (src/mesh/ice-servers.ts). */
  readonly iceServers?: readonly IceServer[];
}

/** The create request in a link (fragment first, then query), or undefined when it has none. Throws CreateLinkError. */
export function readCreateLink(href: string, origin: string): CreateRequest | undefined {
  for (const params of linkParams(href)) {
    const visibility = params.get('create');
    if (visibility === null) continue;
    if (visibility !== 'private')
      throw new CreateLinkError('create_bad_visibility', `this app creates only private meshes from a link (create=private), not “${visibility}”`);
    const model = headModel(params.get('model') ?? '');
    const relay = params.get('relay') ?? undefined;
    if (relay !== undefined && !/^wss?:\/\/[^\s]+$/.test(relay))
      throw new CreateLinkError('create_bad_relay', `the relay “${relay}” is not a Nostr relay address: write it as ws://host:port or wss://host`);
    const iceServers = iceServersOf(params.get('ice'));
    const flags = joinFlags(params);
    const sameOrigin = new URL(model.url).origin === origin;
    const budgetBytes = budgetOf(href);
    return {
      model,
      role: flags.role ?? 'server',
      auto: flags.auto && sameOrigin,
      ...(flags.auto && !sameOrigin
        ? { needsClick: `the model is on ${new URL(model.url).origin}, not this app's origin: check the address, then click Create` }
        : {}),
      ...(budgetBytes !== undefined ? { budgetBytes } : {}),
      ...(relay ? { relay } : {}),
      ...(iceServers.length > 0 ? { iceServers } : {}),
    };
  }
  return undefined;
}

/** A link's `ice` parameter: comma-separated servers, at most MAX_ICE_SERVERS. Throws CreateLinkError. */
function iceServersOf(value: string | null): IceServer[] {
  const parts = (value ?? '').split(',').filter((part) => part.trim() !== '');
  if (parts.length > MAX_ICE_SERVERS)
    throw new CreateLinkError('create_bad_ice', `the link names ${parts.length} STUN/TURN servers; a mesh takes at most ${MAX_ICE_SERVERS}`);
  return parts.map((part) => {
    try {
      return parseIceServer(part);
    } catch (error) {
      throw new CreateLinkError('create_bad_ice', (error as Error).message);
    }
  });
}
