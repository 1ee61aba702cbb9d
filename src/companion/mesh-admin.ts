// Who may be a member of the companion's private mesh, on its API port: invites with a member
// credential of their own, revocation, and a new secret that keeps chosen members. The head's code
// is the mesh's (companion-mesh.ts, revocation.ts, rekey.ts); these routes are how the machine's owner
// reaches it (curl, an agent, the app). They take the API's token wherever /v1 does (off loopback),
// and answer errors in the OpenAI shape like the rest of the port.
//   POST /mesh/invites  {"ttl_s": 86400}                      → {"link", "token", "credential_id", "expires_at"}
//   POST /mesh/revoke   {"peers": [...], "credentials": [...]} → {"revoked": {"peers", "credentials"}}
//   POST /mesh/rotate   {"keep": [...], "ttl_s": 86400}        → {"token", "delivered", "missed", "note"}
import type { IncomingMessage } from 'node:http';
import { encodeInvite } from '../mesh/invite.ts';
import type { CompanionMesh } from '../mesh/net/companion-mesh.ts';
import { type ApiContext, type ApiRoute, refuseWithoutToken, sendJson, sendOpenAiError } from './api-server.ts';

/** A body larger than this is refused before it is read whole. */
const MAX_BODY_BYTES = 16 * 1024;
/** Longest credential the routes issue: a year. */
export const MAX_TTL_S = 365 * 24 * 3600;
/** At most this many ids in one revocation or rotation. */
const MAX_IDS = 1024;

class BadRequest extends Error {}

async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new BadRequest(`the body is over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
  } catch {
    throw new BadRequest('the body is not JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BadRequest('the body must be a JSON object');
  return body as Record<string, unknown>;
}

function ttlOf(body: Record<string, unknown>): number {
  const ttl = body.ttl_s;
  if (!(typeof ttl === 'number' && Number.isInteger(ttl) && ttl >= 60 && ttl <= MAX_TTL_S)) {
    throw new BadRequest(`ttl_s must be a whole number of seconds from 60 to ${MAX_TTL_S}, got ${JSON.stringify(ttl)}`);
  }
  return ttl;
}

function idsOf(body: Record<string, unknown>, field: string): string[] {
  const ids = body[field] ?? [];
  if (!(Array.isArray(ids) && ids.length <= MAX_IDS && ids.every((id) => typeof id === 'string' && id.length > 0 && id.length <= 128))) {
    throw new BadRequest(`${field} must be an array of at most ${MAX_IDS} ids (strings of 1 to 128 characters)`);
  }
  return ids as string[];
}

function route(path: string, token: string | null, act: (body: Record<string, unknown>) => Promise<unknown>): ApiRoute {
  return {
    method: 'POST',
    path,
    handle: async ({ req, res }: ApiContext) => {
      if (refuseWithoutToken(req, res, token)) return;
      try {
        sendJson(res, 200, await act(await readJsonObject(req)));
      } catch (error) {
        if (error instanceof BadRequest) return sendOpenAiError(res, 400, error.message, 'invalid_request_error', 'invalid_mesh_admin_request');
        throw error;
      }
    },
  };
}

/** The three routes over `mesh`; `token` as /health takes it (null on a loopback bind with no --api-token). */
export function meshAdminRoutes(mesh: Pick<CompanionMesh, 'issueInvite' | 'revoke' | 'rotate'>, token: string | null): ApiRoute[] {
  return [
    route('/mesh/invites', token, async (body) => {
      const ttlS = ttlOf(body);
      const issued = mesh.issueInvite({ ttlS });
      return { link: issued.link, token: issued.token, credential_id: issued.credentialId, expires_at: Math.floor(Date.now() / 1000) + ttlS };
    }),
    route('/mesh/revoke', token, async (body) => {
      const peers = idsOf(body, 'peers');
      const credentials = idsOf(body, 'credentials');
      if (peers.length + credentials.length === 0) throw new BadRequest('name at least one peer id (peers) or credential id (credentials) to revoke');
      await mesh.revoke({ peers, credentials });
      return { revoked: { peers, credentials } };
    }),
    route('/mesh/rotate', token, async (body) => {
      const keep = idsOf(body, 'keep');
      const rotation = await mesh.rotate({ keep, ttlS: ttlOf(body) });
      return {
        token: encodeInvite(rotation.invite),
        delivered: rotation.delivered,
        missed: rotation.missed,
        note: 'this companion heads the new mesh now (the secret is saved for its next start too); kept members were handed its invite, the others need a new one',
      };
    }),
  ];
}
