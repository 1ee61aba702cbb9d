// Serves the built PWA (and the generated models) with the headers that make the page
// crossOriginIsolated and a single-page-app fallback. Files go out through `send` (Express's static
// engine): byte ranges, ETag and Last-Modified revalidation, and a file closed when a download is
// aborted are its job, not ours (ARCHITECTURE.md, Libraries).
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { basename, dirname, extname, resolve, sep } from 'node:path';
import send from 'send';

/** Needed on every response (page, workers, wasm) for SharedArrayBuffer and WASM threads. */
export const ISOLATION_HEADERS: Readonly<Record<string, string>> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** The one file other origins may load (src/widget/widget.ts, built by tools/build/widget-plugin.ts). */
export const CROSS_ORIGIN_SCRIPT = '/widget.js';

/** A URL prefix served from a folder. `spa` mounts answer unknown page paths with index.html. */
export interface StaticMount {
  prefix: string;
  dir: string;
  spa?: boolean;
}

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * `frame-ancestors` for a request: the app may be framed only by itself, except as the widget's
 * frame (`?embed=widget`), which the sites given with --embed-origin may frame too. Without it any
 * site could frame the app (its Join and Serve buttons included) under its own page.
 */
export function frameAncestors(url: string, embedOrigins: readonly string[]): string {
  const query = new URLSearchParams(url.split('?')[1] ?? '');
  if (query.get('embed') !== 'widget' || embedOrigins.length === 0) return "frame-ancestors 'self'";
  return embedOrigins.includes('*') ? 'frame-ancestors *' : `frame-ancestors 'self' ${embedOrigins.join(' ')}`;
}

/** `embedOrigins`: the sites that may frame the widget (--embed-origin); none by default. */
export function createStaticHandler(mounts: readonly StaticMount[], embedOrigins: readonly string[] = []): RequestHandler {
  // Longest prefix first so /models/ wins over /.
  const sorted = [...mounts].sort((a, b) => b.prefix.length - a.prefix.length);
  return (req, res) => {
    for (const [name, value] of Object.entries(ISOLATION_HEADERS)) res.setHeader(name, value);
    const pathname = (req.url ?? '/').split('?')[0];
    // The embeddable widget is loaded by <script src> from other sites' pages: CORP same-origin would block it.
    if (pathname === CROSS_ORIGIN_SCRIPT) res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Content-Security-Policy', frameAncestors(req.url ?? '/', embedOrigins));
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return sendText(res, 405, 'only GET and HEAD are served here\n');
    }
    const mount = sorted.find((m) => pathname.startsWith(m.prefix) || `${pathname}/` === m.prefix);
    if (!mount) return sendText(res, 404, 'not found\n');
    // send decodes the rest and refuses ../ out of the mount (403) and broken encodings (400).
    const relative = pathname.slice(mount.prefix.length - 1) || '/';
    transfer(req, res, relative, mount.dir, async (status) => {
      // Page routes of the app (no extension) get the shell; a missing asset stays a 404.
      if (status !== 404 || !mount.spa || extname(relative) !== '') return sendText(res, status, `${STATUS_TEXT[status] ?? 'error'}\n`);
      const shell = resolve(mount.dir, 'index.html');
      if (!(await stat(shell).catch(() => null))) return sendText(res, 503, `the app is not built (no ${shell}); run npm run build\n`);
      transfer(req, res, '/index.html', mount.dir, (again) => sendText(res, again, `${STATUS_TEXT[again] ?? 'error'}\n`));
    });
  };
}

const STATUS_TEXT: Readonly<Record<number, string>> = { 400: 'malformed path', 403: 'forbidden', 404: 'not found', 500: 'internal error' };

/**
 * One file with ETag, Last-Modified, HEAD and byte ranges (206, or 416 past the end), or a 404:
 * how test servers serve models to the engine. Resolves when the response is over.
 */
export function serveFile(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  return new Promise((resolve) => {
    res.once('close', () => resolve());
    // send takes a URL path (decoded, dot-folders refused) under a root: the file's own folder.
    transfer(req, res, `/${encodeURIComponent(basename(path))}`, dirname(path), (status) => sendText(res, status, `${STATUS_TEXT[status] ?? 'error'}\n`));
  });
}

/** URL `path` under the folder `root`; a folder is served by its index.html. */
function transfer(req: IncomingMessage, res: ServerResponse, path: string, root: string, onError: (status: number) => void): void {
  send(req, path, { root, cacheControl: false, index: ['index.html'] })
    .on('headers', (_res: ServerResponse, file: string) => res.setHeader('Cache-Control', cacheControl(file)))
    .on('directory', () => transfer(req, res, `${path}/`, root, onError))
    .on('error', (error: { status?: number }) => onError(error.status ?? 500))
    .pipe(res);
}

function cacheControl(path: string): string {
  // Vite puts content-hashed files under assets/: they never change. Everything else revalidates,
  // and the shell and service worker must, or an update would never reach the user.
  return path.includes(`${sep}assets${sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache';
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache');
  res.end(text);
}
