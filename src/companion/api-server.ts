// The companion's HTTP API: a small table of exact routes (/health) and prefix mounts (/v1/, answered
// by src/api), OpenAI-shaped errors, and CORS limited to the app's own origin so other sites cannot use it.
// Hand-written rather than on Hono: measured no faster and hardly shorter (ARCHITECTURE.md, Libraries).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkApiToken } from './api-auth.ts';

export interface ApiContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
}

export interface ApiRoute {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  handle(ctx: ApiContext): void | Promise<void>;
}

/** Every method under a path prefix goes to one handler, which does its own routing and errors. */
export interface ApiMount {
  prefix: string;
  handle(ctx: ApiContext): void | Promise<void>;
}

/** Headers a page may read from a cross-origin answer besides the CORS-safelisted ones. */
const EXPOSED_HEADERS = 'x-mesh-served-by, request-id, retry-after';

export interface ApiHandlerOptions {
  routes: readonly ApiRoute[];
  mounts?: readonly ApiMount[];
  /** Origins whose pages may call the API ('*' = any); asked per request because ports may be chosen late. */
  allowedOrigins: () => readonly string[];
  /**
   * Bound to loopback: refuse a request whose Host is not a loopback name. A site whose name is
   * made to resolve to 127.0.0.1 (DNS rebinding) is then same-origin with this API for the browser,
   * and only the Host it sends gives it away.
   */
  loopbackOnly?: boolean;
}

/** True when the Host header names this machine by a loopback name (any port). */
export function isLoopbackHostHeader(host: string | undefined): boolean {
  if (!host) return false;
  let name: string;
  try {
    name = new URL(`http://${host}`).hostname;
  } catch {
    return false;
  }
  return name === 'localhost' || name === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(name);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(text)),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/**
 * Answers 401 (OpenAI's shape) and returns true when `token` is set and the request does not carry
 * it; the body, never read, drains so the connection stays usable. The exact routes' check (/v1 answers
 * in the caller's protocol instead).
 */
export function refuseWithoutToken(req: IncomingMessage, res: ServerResponse, token: string | null | undefined): boolean {
  const refused = token ? checkApiToken(req, token) : null;
  if (!refused) return false;
  req.resume();
  sendOpenAiError(res, 401, refused.message, 'authentication_error', refused.code ?? null);
  return true;
}

/** OpenAI's error shape, which its SDK turns into a typed APIError. */
export function sendOpenAiError(
  res: ServerResponse,
  status: number,
  message: string,
  type: string,
  code: string | null = null,
  param: string | null = null,
): void {
  sendJson(res, status, { error: { message, type, param, code } });
}

export function createApiHandler(options: ApiHandlerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handle(options, req, res).catch((error: unknown) => {
      if (res.headersSent) return void res.destroy();
      sendOpenAiError(res, 500, `internal error: ${(error as Error).message}`, 'server_error', 'internal_error');
    });
  };
}

async function handle(options: ApiHandlerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (options.loopbackOnly && !isLoopbackHostHeader(req.headers.host)) {
    req.resume();
    return sendOpenAiError(
      res,
      403,
      `this API is bound to loopback and answers only requests for 127.0.0.1, localhost or [::1], not ${JSON.stringify(req.headers.host ?? '')}; to reach it by another name, start the companion with --host`,
      'invalid_request_error',
      'host_not_allowed',
    );
  }
  const origin = req.headers.origin;
  if (origin !== undefined) {
    // A browser page of another site: refuse before any handler runs (CORS alone would only hide the answer).
    if (!isAllowedOrigin(origin, options.allowedOrigins())) {
      return sendOpenAiError(
        res,
        403,
        `origin ${origin} may not use this API; start the companion with --cors-origin ${origin} to allow it`,
        'invalid_request_error',
        'origin_not_allowed',
      );
    }
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS);
    res.setHeader('Vary', 'Origin');
  }

  const url = new URL(req.url ?? '/', 'http://api.invalid');
  const mount = options.mounts?.find((m) => url.pathname.startsWith(m.prefix));
  const onPath = options.routes.filter((r) => r.path === url.pathname);
  if (req.method === 'OPTIONS' && (onPath.length > 0 || mount)) {
    // A preflight carries no credentials: answered before any token check.
    res.writeHead(204, {
      'Access-Control-Allow-Methods': mount ? 'GET, POST' : onPath.map((r) => r.method).join(', '),
      'Access-Control-Allow-Headers': req.headers['access-control-request-headers'] ?? 'authorization, content-type',
      'Access-Control-Max-Age': '600',
    });
    return void res.end();
  }
  if (mount && onPath.length === 0) return void (await mount.handle({ req, res, url }));
  const method = req.method === 'HEAD' ? 'GET' : req.method;
  const route = onPath.find((r) => r.method === method);
  if (!route) {
    if (onPath.length > 0) {
      res.setHeader('Allow', onPath.map((r) => r.method).join(', '));
      return sendOpenAiError(
        res,
        405,
        `${req.method} is not supported on ${url.pathname}; use ${onPath.map((r) => r.method).join(' or ')}`,
        'invalid_request_error',
        'method_not_allowed',
      );
    }
    return sendOpenAiError(res, 404, `unknown route ${req.method} ${url.pathname}`, 'invalid_request_error', 'unknown_route');
  }
  await route.handle({ req, res, url });
}

export function isAllowedOrigin(origin: string, allowed: readonly string[]): boolean {
  return allowed.includes('*') || allowed.includes(origin);
}

export interface HealthInfo {
  version: string;
  startedAt: number;
  services: () => Record<string, string>;
  /** The models the API serves itself (without any tab), with how. */
  models?: () => readonly unknown[];
  /** Bound off loopback: the API token /health asks for too (its URLs and models are not for strangers). */
  token?: string | null;
  /** What the pipeline head's stage checks found (mesh/pipeline/stage-check.ts), for the Dashboard. */
  stageChecks?: () => unknown;
}

/** `GET /health`: liveness for scripts and tests, and the URLs of the other services. */
export function healthRoute(info: HealthInfo): ApiRoute {
  return {
    method: 'GET',
    path: '/health',
    handle: ({ req, res }) => {
      if (refuseWithoutToken(req, res, info.token)) return;
      sendJson(res, 200, {
        status: 'ok',
        version: info.version,
        uptime_s: Math.round((Date.now() - info.startedAt) / 1000),
        services: info.services(),
        ...(info.models ? { models: info.models() } : {}),
        ...(info.stageChecks ? { stage_checks: info.stageChecks() } : {}),
      });
    },
  };
}
