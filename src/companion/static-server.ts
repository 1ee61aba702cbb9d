// Serves the built PWA (and the generated models) with the headers that make the page
// crossOriginIsolated, byte ranges for model files, and a single-page-app fallback.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, resolve, sep } from 'node:path';

/** Needed on every response (page, workers, wasm) for SharedArrayBuffer and WASM threads. */
export const ISOLATION_HEADERS: Readonly<Record<string, string>> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** The one file other origins may load (src/widget/widget.ts, built by tools/build/widget-plugin.ts). */
export const CROSS_ORIGIN_SCRIPT = '/widget.js';

export const MIME_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.jpg': 'image/jpeg',
  '.webp': 'image/webp',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
  '.gguf': 'application/octet-stream',
  '.bin': 'application/octet-stream',
};

/** A URL prefix served from a folder. `spa` mounts answer unknown page paths with index.html. */
export interface StaticMount {
  prefix: string;
  dir: string;
  spa?: boolean;
}

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

export function createStaticHandler(mounts: readonly StaticMount[]): RequestHandler {
  // Longest prefix first so /models/ wins over /.
  const sorted = [...mounts].sort((a, b) => b.prefix.length - a.prefix.length);
  return (req, res) => {
    serve(sorted, req, res).catch((error: unknown) => {
      if (!res.headersSent) sendText(res, 500, `internal error: ${(error as Error).message}\n`);
      else res.destroy();
    });
  };
}

async function serve(mounts: readonly StaticMount[], req: IncomingMessage, res: ServerResponse): Promise<void> {
  for (const [name, value] of Object.entries(ISOLATION_HEADERS)) res.setHeader(name, value);
  // The embeddable widget is loaded by <script src> from other sites' pages: CORP same-origin would block it.
  if (req.url?.split('?')[0] === CROSS_ORIGIN_SCRIPT) res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return sendText(res, 405, 'only GET and HEAD are served here\n');
  }

  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
  } catch {
    return sendText(res, 400, 'malformed URL encoding\n');
  }
  if (pathname.includes('\0')) return sendText(res, 400, 'malformed path\n');

  const mount = mounts.find((m) => pathname.startsWith(m.prefix) || pathname + '/' === m.prefix);
  if (!mount) return sendText(res, 404, 'not found\n');
  const root = resolve(mount.dir);
  const relative = pathname.slice(mount.prefix.length);
  const file = resolve(root, './' + relative);
  // resolve() has already collapsed any ../ (decoded %2e%2e too): what is left must stay inside root.
  if (file !== root && !file.startsWith(root + sep)) return sendText(res, 403, 'forbidden\n');

  // A folder is served by its index.html (so / is the app shell).
  let target = (await fileAt(file)) ?? (await fileAt(resolve(file, 'index.html')));
  // Page routes of the app (no extension) get the shell; a missing asset stays a 404.
  if (!target && mount.spa && extname(relative) === '') target = await fileAt(resolve(root, 'index.html'));
  if (!target) {
    if (mount.spa && !(await fileAt(resolve(root, 'index.html')))) {
      return sendText(res, 503, `the app is not built (no ${resolve(root, 'index.html')}); run npm run build\n`);
    }
    return sendText(res, 404, 'not found\n');
  }
  return sendFile(req, res, target.path, target.size, target.mtimeMs);
}

async function fileAt(path: string): Promise<{ path: string; size: number; mtimeMs: number } | null> {
  try {
    const info = await stat(path);
    return info.isFile() ? { path, size: info.size, mtimeMs: info.mtimeMs } : null;
  } catch {
    return null;
  }
}

/**
 * One file with ETag, Last-Modified, HEAD and a single byte range (206, or 416 past the end), or a
 * 404: how the companion serves models, and how test servers serve them to the engine.
 */
export async function serveFile(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  const target = await fileAt(path);
  if (!target) return sendText(res, 404, 'not found\n');
  sendFile(req, res, target.path, target.size, target.mtimeMs);
}

function cacheControl(path: string): string {
  // Vite puts content-hashed files under assets/: they never change. Everything else revalidates,
  // and the shell and service worker must, or an update would never reach the user.
  return path.includes(`${sep}assets${sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache';
}

function sendFile(req: IncomingMessage, res: ServerResponse, path: string, size: number, mtimeMs: number): void {
  const etag = `W/"${size.toString(16)}-${Math.floor(mtimeMs).toString(16)}"`;
  res.setHeader('Content-Type', MIME_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream');
  res.setHeader('Cache-Control', cacheControl(path));
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('ETag', etag);
  res.setHeader('Last-Modified', new Date(mtimeMs).toUTCString());

  if (req.headers['if-none-match'] === etag) {
    res.statusCode = 304;
    res.end();
    return;
  }

  let start = 0;
  let end = size - 1;
  const rangeHeader = req.headers.range;
  const ifRange = req.headers['if-range'];
  if (rangeHeader && (ifRange === undefined || ifRange === etag)) {
    const range = parseRange(rangeHeader, size);
    if (range === 'unsatisfiable') {
      res.setHeader('Content-Range', `bytes */${size}`);
      return sendText(res, 416, `range not satisfiable for a file of ${size} bytes\n`);
    }
    if (range) {
      [start, end] = range;
      res.statusCode = 206;
      res.setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
    }
  }
  res.setHeader('Content-Length', String(Math.max(0, end - start + 1)));
  if (req.method === 'HEAD' || size === 0) {
    res.end();
    return;
  }
  const stream = createReadStream(path, { start, end });
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

/**
 * One `bytes=` range, as an inclusive [start, end] clamped to the file. Multiple ranges and
 * malformed headers give null (serve the whole file, which RFC 9110 allows).
 */
export function parseRange(header: string, size: number): [number, number] | 'unsatisfiable' | null {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return null;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0) return 'unsatisfiable';
    return [Math.max(0, size - suffix), size - 1];
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (match[2] !== '' && Number(match[2]) < start) return null;
  if (start >= size) return 'unsatisfiable';
  return [start, end];
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache');
  res.end(text);
}
