// Which host pages the widget's frame serves. The frame runs on the app's origin, so the companion's
// CORS lets it call the API; without a check here any site could use a visitor's companion through
// the frame. The companion publishes the sites it allows at /companion.json (`embed_origins`).

export type EmbedDecision = { ok: true } | { ok: false; reason: string };

/** What /companion.json may say about embedding: a list of origins, or '*' for any site. */
export interface EmbedPolicySource {
  embed_origins?: unknown;
}

/**
 * The app's own origin may always embed. A published list is enforced; no list (no /companion.json,
 * as on a static host, or one that cannot be read) refuses every other site: failing open would let
 * any page use a visitor's mesh through the frame whenever the policy could not be fetched.
 */
export function embedDecision(parentOrigin: string, appOrigin: string, published: EmbedPolicySource | null): EmbedDecision {
  if (parentOrigin === appOrigin) return { ok: true };
  if (parentOrigin === 'null' || !/^https?:\/\//.test(parentOrigin)) {
    return { ok: false, reason: `pages of origin ${parentOrigin} cannot embed the chat: serve the page over http(s)` };
  }
  const list = published?.embed_origins;
  if (list === undefined) {
    return {
      ok: false,
      reason: `this app publishes no embed policy (no /companion.json), so no other site may embed its chat; serve it from a companion started with --embed-origin ${parentOrigin}`,
    };
  }
  if (list === '*' || (Array.isArray(list) && (list.includes('*') || list.includes(parentOrigin)))) return { ok: true };
  return {
    ok: false,
    reason: `this mesh does not allow ${parentOrigin} to embed its chat; its operator can allow it with npm start -- --embed-origin ${parentOrigin}`,
  };
}

/** Reads the policy from the app's own /companion.json (null when there is no companion to ask). */
export async function publishedEmbedPolicy(appOrigin: string, fetchFn: typeof fetch = fetch): Promise<EmbedPolicySource | null> {
  try {
    const res = await fetchFn(`${appOrigin}/companion.json`, { cache: 'no-store', signal: AbortSignal.timeout(3000) });
    if (!res.ok || !res.headers.get('content-type')?.includes('json')) return null;
    const body: unknown = await res.json();
    return typeof body === 'object' && body !== null ? (body as EmbedPolicySource) : null;
  } catch {
    return null;
  }
}
