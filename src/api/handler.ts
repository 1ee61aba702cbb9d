// handleApiRequest: the whole OpenAI + Anthropic HTTP API as one Fetch-API function, so the same
// code serves the service worker's fetch events and (through node-adapter.ts) the companion.
// Every failure leaves as an error in the protocol the client speaks, with the right status.
import { anthropicErrorBody, ApiError, openAiErrorBody, toApiError } from '../protocol/api-error.ts';
import { countTokens, listModelsAnthropic, messages, retrieveModelAnthropic } from './anthropic-routes.ts';
import type { ApiContext, RequestInfo } from './context.ts';
import { completions } from './completions-route.ts';
import { chatCompletions, listModels, retrieveModel } from './openai-routes.ts';
import { readJsonBody } from './request-body.ts';
import { isAbort, jsonResponse } from './serve.ts';

export type Protocol = 'openai' | 'anthropic';

interface Route {
  method: 'GET' | 'POST';
  /** Exact path, or a prefix ending in "/" whose rest is a parameter. */
  path: string;
  handle(request: Request, ctx: ApiContext, info: RequestInfo, param: string): Promise<Response>;
}

const json =
  (fn: (request: Request, ctx: ApiContext, info: RequestInfo, body: unknown) => Promise<Response>): Route['handle'] =>
  async (request, ctx, info) =>
    fn(request, ctx, info, await readJsonBody(request, ctx.maxBodyBytes));

const ROUTES: Route[] = [
  { method: 'GET', path: '/v1/models', handle: (r, ctx) => (speaks(r) === 'anthropic' ? listModelsAnthropic(ctx) : listModels(ctx)) },
  { method: 'GET', path: '/v1/models/', handle: (r, ctx, _i, id) => (speaks(r) === 'anthropic' ? retrieveModelAnthropic(ctx, id) : retrieveModel(ctx, id)) },
  { method: 'POST', path: '/v1/chat/completions', handle: json(chatCompletions) },
  { method: 'POST', path: '/v1/completions', handle: json(completions) },
  { method: 'POST', path: '/v1/messages', handle: json(messages) },
  { method: 'POST', path: '/v1/messages/count_tokens', handle: json((_r, ctx, _i, body) => countTokens(ctx, body)) },
];

/** The paths this API answers, for a transport that must register them (e.g. the companion's route table). */
export const API_PATHS: readonly { method: 'GET' | 'POST'; path: string }[] = ROUTES.map(({ method, path }) => ({ method, path }));

/**
 * Anthropic's shape for /v1/messages…; /v1/models is shared by both SDKs, and the Anthropic one
 * always sends anthropic-version. Everything else speaks OpenAI.
 */
export function speaks(request: Request, pathname = new URL(request.url).pathname): Protocol {
  if (pathname.startsWith('/v1/messages')) return 'anthropic';
  if (pathname.startsWith('/v1/models') && request.headers.has('anthropic-version')) return 'anthropic';
  return 'openai';
}

function match(route: Route, pathname: string): string | null {
  if (route.path.endsWith('/')) {
    if (!pathname.startsWith(route.path)) return null;
    const rest = pathname.slice(route.path.length);
    if (!rest || rest.includes('/')) return null;
    try {
      return decodeURIComponent(rest);
    } catch {
      throw new ApiError('invalid_request', `the path ${pathname} has broken percent-encoding; encode the model id with encodeURIComponent`, {
        code: 'malformed_path',
      });
    }
  }
  return pathname === route.path ? '' : null;
}

export function errorResponse(error: ApiError, protocol: Protocol, headers: Record<string, string> = {}): Response {
  const extra: Record<string, string> = { ...headers };
  if (error.retryAfter !== undefined) extra['retry-after'] = String(error.retryAfter);
  return jsonResponse(protocol === 'anthropic' ? anthropicErrorBody(error) : openAiErrorBody(error), error.status, extra);
}

export async function handleApiRequest(request: Request, ctx: ApiContext, info: RequestInfo = {}): Promise<Response> {
  const pathname = new URL(request.url).pathname.replace(/\/+$/, '') || '/';
  const protocol = speaks(request, pathname);
  try {
    const method = request.method === 'HEAD' ? 'GET' : request.method;
    let allowed: string[] = [];
    for (const route of ROUTES) {
      const param = match(route, pathname);
      if (param === null) continue;
      if (route.method === method) return await route.handle(request, ctx, info, param);
      allowed.push(route.method);
    }
    allowed = [...new Set(allowed)];
    if (allowed.length) {
      throw new ApiError('method_not_allowed', `${request.method} is not supported on ${pathname}; use ${allowed.join(' or ')}`, {
        code: 'method_not_allowed',
      });
    }
    throw new ApiError(
      'not_found',
      `there is no route ${request.method} ${pathname}; the API serves /v1/models, /v1/chat/completions, /v1/completions, /v1/messages and /v1/messages/count_tokens`,
      { code: 'unknown_route' },
    );
  } catch (e) {
    if (isAbort(e)) return new Response(null, { status: 499 });
    const error = toApiError(e);
    const headers: Record<string, string> = {};
    if (error.kind === 'method_not_allowed') {
      headers.allow = ROUTES.filter((r) => match(r, pathname) !== null)
        .map((r) => r.method)
        .join(', ');
    }
    return errorResponse(error, protocol, headers);
  }
}
