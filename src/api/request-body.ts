// Reads a request's JSON body defensively: the content type must be JSON, the size is capped
// (checked on Content-Length first, then while reading, since a stream can lie), and bad JSON
// gets a message with the position at fault.
import { ApiError } from '../protocol/api-error.ts';

export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

function tooLarge(limit: number): ApiError {
  return new ApiError('too_large', `the request body is larger than ${limit} bytes; shorten the conversation or raise the server's body limit`, {
    code: 'request_too_large',
  });
}

export async function readJsonBody(request: Request, maxBytes: number): Promise<unknown> {
  const type = request.headers.get('content-type');
  const mime = type?.split(';')[0].trim().toLowerCase();
  if (mime !== undefined && mime !== 'application/json' && !mime.endsWith('+json')) {
    throw new ApiError('unsupported_media_type', `Content-Type must be application/json, got ${type}; with curl, add -H 'Content-Type: application/json'`, {
      code: 'unsupported_content_type',
    });
  }
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge(maxBytes);
  const bytes = await readCapped(request, maxBytes);
  if (bytes.length === 0) throw new ApiError('invalid_request', 'the request body is empty; send a JSON object', { code: 'empty_body' });
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ApiError('invalid_request', 'the request body is not valid UTF-8; send UTF-8 encoded JSON', { code: 'invalid_json' });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ApiError('invalid_request', `the request body is not valid JSON (${(e as Error).message}); check quoting and commas`, { code: 'invalid_json' });
  }
}

async function readCapped(request: Request, maxBytes: number): Promise<Uint8Array> {
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      reader.cancel().catch(() => {});
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.byteLength;
  }
  return out;
}
