// Bearer-token check of the companion's /v1 API. Needed when the API is bound where other machines
// can reach it; refused requests get a 401 in the protocol the client speaks, so an SDK raises its
// own AuthenticationError with a message that says how to pass the token.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ApiError } from '../protocol/api-error.ts';

/** A fresh token for `token: …` at start: 32 random bytes, URL-safe. */
export function generateApiToken(): string {
  return `mesh-${randomBytes(32).toString('base64url')}`;
}

/**
 * The token a request carries: `Authorization: Bearer …` (OpenAI SDK, curl) or `x-api-key: …`
 * (Anthropic SDK), whichever is present.
 */
export function presentedToken(req: IncomingMessage): string | null {
  const auth = req.headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  const key = req.headers['x-api-key'];
  return typeof key === 'string' && key !== '' ? key : null;
}

/** Constant time in the content (a token guessed byte by byte learns nothing from timing). */
export function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  // timingSafeEqual needs equal lengths; comparing lengths first leaks only the length
  return x.length === y.length && timingSafeEqual(x, y);
}

/** null when the request may pass, else the ApiError to answer with (401). */
export function checkApiToken(req: IncomingMessage, token: string): ApiError | null {
  const given = presentedToken(req);
  if (given !== null && sameToken(given, token)) return null;
  const message =
    given === null
      ? 'this API needs a token: send "Authorization: Bearer <token>" (OpenAI SDK: apiKey; Anthropic SDK: apiKey or authToken); npm start printed it as "token: …", or set it with --api-token / MESH_API_TOKEN'
      : 'the API token is wrong; use the one npm start printed as "token: …" (or the --api-token / MESH_API_TOKEN it was started with)';
  return new ApiError('authentication', message, { code: given === null ? 'missing_api_key' : 'invalid_api_key' });
}
