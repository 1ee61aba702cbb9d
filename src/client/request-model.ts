// Which model a /v1 request names, read without consuming it: the route and the page's providers
// pick who answers by it.

/** The model a request names: `model` of a JSON body, or the id of GET /v1/models/{id}. */
export function requestedModel(url: URL, method: string, body: ArrayBuffer | null): string | undefined {
  if (method === 'GET' || method === 'HEAD') {
    const m = /^\/v1\/models\/([^/]+)$/.exec(url.pathname);
    try {
      return m ? decodeURIComponent(m[1]) : undefined;
    } catch {
      return undefined;
    }
  }
  if (!body || body.byteLength === 0) return undefined;
  try {
    const parsed = JSON.parse(new TextDecoder().decode(body)) as { model?: unknown };
    return typeof parsed?.model === 'string' ? parsed.model : undefined;
  } catch {
    return undefined; // the API answers the broken body in the client's protocol
  }
}

/** GET (or HEAD) /v1/models: the list, which every provider adds to. */
export function isModelList(url: URL, method: string): boolean {
  return (method === 'GET' || method === 'HEAD') && url.pathname.replace(/\/+$/, '') === '/v1/models';
}
