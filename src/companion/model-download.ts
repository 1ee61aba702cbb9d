// `--model <URL>`: downloads a GGUF once into the models folder (which the app server publishes under
// /models/, so the mesh splits it like any local model), resuming an interrupted download with an
// HTTP Range validated by If-Range, and fetching every shard of a split GGUF. Later starts only ask
// (HEAD) whether the file changed upstream.
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { siblingUrl } from '../gguf/byte-source.ts';
import { parseSplitName, splitFileName } from '../gguf/split.ts';

export type ModelDownloadErrorCode =
  | 'model_url_invalid'
  | 'model_download_not_found'
  | 'model_download_http'
  | 'model_download_network'
  | 'model_download_interrupted'
  | 'model_download_not_gguf';

export class ModelDownloadError extends Error {
  readonly code: ModelDownloadErrorCode;
  constructor(code: ModelDownloadErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ModelDownloadError';
    this.code = code;
  }
}

/** One file's progress; `total` is undefined when the server sends no length. */
export interface DownloadProgress {
  readonly file: string;
  /** 1-based shard number and shard count (1 of 1 for a single file). */
  readonly part: number;
  readonly parts: number;
  /** Bytes on disk, including what an earlier run fetched. */
  readonly received: number;
  readonly total: number | undefined;
  /** Bytes fetched by this run. */
  readonly fetched: number;
  readonly done: boolean;
}

export interface DownloadOptions {
  /** The models folder. */
  readonly dir: string;
  readonly fetch?: typeof fetch;
  readonly onProgress?: (p: DownloadProgress) => void;
  readonly log?: (line: string) => void;
  /** Resumes after a dropped connection before giving up (default 3). */
  readonly retries?: number;
  /** How long the HEAD that checks a downloaded file may take (default 10 s); past it the copy is used. */
  readonly headTimeoutMs?: number;
}

export interface DownloadedModel {
  /** The file to load: the model, or a split model's first shard (the others lie beside it). */
  readonly path: string;
  readonly files: readonly string[];
  /** Bytes this call fetched (0 when every file was already here). */
  readonly fetched: number;
}

/** What `<file>.download.json` records about the file (or its `.part`) beside it. */
interface Validators {
  readonly url: string;
  readonly etag?: string;
  readonly lastModified?: string;
  readonly size?: number;
}

const GGUF_MAGIC = 'GGUF';

/** The file name a model URL is stored under: its last path segment, which must end in .gguf. */
export function modelFileName(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ModelDownloadError('model_url_invalid', `“${url}” is not a URL; give an http(s) link to a .gguf file`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new ModelDownloadError('model_url_invalid', `only http(s) links can be downloaded, not ${parsed.protocol}`);
  const name = basename(decodeURIComponent(parsed.pathname));
  if (!/\.gguf$/i.test(name) || /[\\/\0]/.test(name) || name.startsWith('.')) {
    throw new ModelDownloadError(
      'model_url_invalid',
      `the link should end in a .gguf file name (got “${name || parsed.pathname}”); on Hugging Face use the file’s “resolve/main/…” link`,
    );
  }
  return name;
}

/** Downloads `url` (every shard, for a split GGUF) into `o.dir` unless it is there already. */
export async function downloadModel(url: string, o: DownloadOptions): Promise<DownloadedModel> {
  const name = modelFileName(url);
  const split = parseSplitName(name);
  const names = split ? Array.from({ length: split.count }, (_, i) => splitFileName(split.prefix, i, split.count)) : [name];
  await mkdir(o.dir, { recursive: true });
  let fetched = 0;
  const files: string[] = [];
  for (const [i, file] of names.entries()) {
    const path = join(o.dir, file);
    fetched += await ensureFile(file === name ? url : siblingUrl(url, file), path, { ...o, part: i + 1, parts: names.length });
    files.push(path);
  }
  return { path: files[0], files, fetched };
}

interface FileOptions extends DownloadOptions {
  readonly part: number;
  readonly parts: number;
}

async function readValidators(path: string): Promise<Validators | undefined> {
  try {
    const v = JSON.parse(await readFile(`${path}.download.json`, 'utf8')) as Validators;
    return typeof v.url === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

function validatorsOf(res: Response, url: string, size: number | undefined): Validators {
  return { url, etag: res.headers.get('etag') ?? undefined, lastModified: res.headers.get('last-modified') ?? undefined, size };
}

/** Whether two responses describe the same file version (neither naming one counts as unknown: no). */
function sameVersion(a: Validators, b: Validators): boolean {
  if (a.etag !== undefined || b.etag !== undefined) return a.etag === b.etag;
  return a.lastModified !== undefined && a.lastModified === b.lastModified;
}

/** Returns the bytes fetched. */
async function ensureFile(url: string, path: string, o: FileOptions): Promise<number> {
  const file = basename(path);
  if (existsSync(path)) {
    const known = await readValidators(path);
    if (!known || known.url !== url) {
      o.log?.(`${path} exists but was not downloaded from ${url}; serving it as it is (delete it to download again)`);
      return 0;
    }
    const upstream = await headOf(url, o);
    if (typeof upstream === 'string') {
      o.log?.(`could not check ${file} upstream (${upstream}); serving the copy downloaded before`);
      return 0;
    }
    if (sameVersion(known, upstream) && (upstream.size === undefined || upstream.size === known.size)) return 0;
    o.log?.(`${file} changed upstream (ETag ${known.etag ?? '-'} → ${upstream.etag ?? '-'}); downloading it again`);
    await rm(`${path}.part`, { force: true });
  }
  return download(url, path, o);
}

/** The file's validators by HEAD, or why they could not be had. */
async function headOf(url: string, o: FileOptions): Promise<Validators | string> {
  try {
    const res = await (o.fetch ?? fetch)(url, { method: 'HEAD', signal: AbortSignal.timeout(o.headTimeoutMs ?? 10_000) });
    if (!res.ok) return `HEAD answered ${res.status}`;
    const length = res.headers.get('content-length');
    return validatorsOf(res, url, length === null ? undefined : Number(length));
  } catch (error) {
    return (error as Error).message;
  }
}

async function download(url: string, path: string, o: FileOptions): Promise<number> {
  const part = `${path}.part`;
  const file = basename(path);
  const tally = { fetched: 0 };
  for (let attempt = 0, restarts = 0; ; ) {
    const known = await readValidators(path);
    const have = known?.url === url && existsSync(part) ? (await stat(part)).size : 0;
    try {
      const got = await fetchInto(url, path, part, have, known, tally, o);
      if (got === RESTART && restarts++ < 1) continue;
      if (got === RESTART)
        throw new ModelDownloadError(
          'model_download_http',
          `${url} keeps answering ranges that do not continue the partial download; delete ${part} and start again`,
        );
      break;
    } catch (error) {
      const transient = error instanceof ModelDownloadError && (error.code === 'model_download_interrupted' || error.code === 'model_download_network');
      if (!transient || attempt++ >= (o.retries ?? 3)) throw error;
      o.log?.(`${error.message.split(';')[0]}; resuming`);
    }
  }
  await checkMagic(part, url);
  await rename(part, path);
  const size = (await stat(path)).size;
  o.onProgress?.({ file, part: o.part, parts: o.parts, received: size, total: size, fetched: tally.fetched, done: true });
  return tally.fetched;
}

/** fetchInto's answer when the partial file was dropped and a fresh GET should follow. */
const RESTART = -1;

/**
 * One GET: appends to `part` from `have` (when the server still has that version) or starts it over;
 * returns 0, or RESTART. `tally` counts the body bytes of every attempt.
 */
async function fetchInto(
  url: string,
  path: string,
  part: string,
  have: number,
  known: Validators | undefined,
  tally: { fetched: number },
  o: FileOptions,
): Promise<number> {
  const file = basename(path);
  const validator = known?.etag ?? known?.lastModified;
  const resuming = have > 0 && validator !== undefined;
  const headers: Record<string, string> = resuming ? { range: `bytes=${have}-`, 'if-range': validator } : {};
  let res: Response;
  try {
    res = await (o.fetch ?? fetch)(url, { headers });
  } catch (error) {
    throw new ModelDownloadError(
      'model_download_network',
      `cannot reach ${hostOf(url)} (${(error as Error).message}); check the URL and the connection, then start again (the download resumes)`,
      { cause: error },
    );
  }
  if (res.status === 416 && resuming) {
    // The partial file is not a prefix this server can continue (e.g. it grew past a shrunken file).
    o.log?.(`${file}: the server cannot continue the partial download; starting over`);
    await res.body?.cancel();
    await rm(part, { force: true });
    return RESTART;
  }
  if (res.status === 404 || res.status === 410) {
    throw new ModelDownloadError(
      'model_download_not_found',
      `${url} answered ${res.status} ${res.statusText || 'Not Found'}: no model there; check the link (on Hugging Face, the file’s “resolve/main/…” link)`,
    );
  }
  if (res.status !== 200 && res.status !== 206) {
    throw new ModelDownloadError('model_download_http', `${url} answered ${res.status} ${res.statusText}; check the link, or try again later`);
  }
  let start = 0;
  let total = lengthOf(res.headers.get('content-length'));
  if (res.status === 206) {
    const range = /^bytes (\d+)-\d+\/(\d+)$/.exec(res.headers.get('content-range') ?? '');
    const now = validatorsOf(res, url, undefined);
    // A server that ignores If-Range could send another version's bytes: its validators tell.
    if (!resuming || !range || Number(range[1]) !== have || (known && !sameVersion(known, now))) {
      await res.body?.cancel();
      await rm(part, { force: true });
      await rm(`${path}.download.json`, { force: true });
      o.log?.(`${file}: the server sent a range of another version; starting over`);
      return RESTART;
    }
    start = have;
    total = Number(range[2]);
  } else if (resuming) {
    o.log?.(`${file} changed on the server since the partial download; starting over`);
  }
  await writeFile(`${path}.download.json`, JSON.stringify(validatorsOf(res, url, total)));
  await streamBody(res, part, start, total, tally, o, file, url);
  return 0;
}

async function streamBody(
  res: Response,
  part: string,
  start: number,
  total: number | undefined,
  tally: { fetched: number },
  o: FileOptions,
  file: string,
  url: string,
): Promise<void> {
  const out = await open(part, start > 0 ? 'a' : 'w');
  let received = start;
  try {
    if (!res.body) throw new Error('the response has no body');
    for await (const chunk of res.body) {
      await out.write(chunk);
      received += chunk.byteLength;
      tally.fetched += chunk.byteLength;
      o.onProgress?.({ file, part: o.part, parts: o.parts, received, total, fetched: tally.fetched, done: false });
    }
  } catch (error) {
    throw interrupted(file, url, received, total, (error as Error).message, error);
  } finally {
    await out.close();
  }
  if (total !== undefined && received !== total) throw interrupted(file, url, received, total, 'the connection closed early');
}

function interrupted(file: string, url: string, received: number, total: number | undefined, why: string, cause?: unknown): ModelDownloadError {
  return new ModelDownloadError(
    'model_download_interrupted',
    `the download of ${file} from ${hostOf(url)} stopped at ${received} of ${total ?? '?'} bytes (${why}); start again to resume from there`,
    { cause },
  );
}

async function checkMagic(part: string, url: string): Promise<void> {
  const fh = await open(part, 'r');
  const head = Buffer.alloc(4);
  try {
    await fh.read(head, 0, 4, 0);
  } finally {
    await fh.close();
  }
  if (head.toString('latin1') !== GGUF_MAGIC) {
    await rm(part, { force: true });
    throw new ModelDownloadError(
      'model_download_not_gguf',
      `${url} is not a GGUF file (it starts with “${head.toString('latin1').replace(/[^\x20-\x7e]/g, '?')}”, maybe an HTML page); give the link to the .gguf file itself`,
    );
  }
}

function lengthOf(header: string | null): number | undefined {
  return header !== null && /^\d+$/.test(header) ? Number(header) : undefined;
}

function hostOf(url: string): string {
  return new URL(url).host;
}
