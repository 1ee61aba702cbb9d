// The tab-attach protocol: a browser tab that serves models opens a WebSocket to the companion's
// /attach endpoint, announces its models (with the tokenizer metadata the companion needs to build
// prompts and count tokens), and runs the generations the companion forwards to it, one token per
// message, with pull-based flow control and abort. JSON text frames; every frame is checked here and
// a bad one is answered with an error frame, never trusted.
import { checked, field, num, object, optNum, reject, str, type Checked, type Json, type StringRule } from './mesh-checks.ts';
import type { SamplingParams } from './generation.ts';

export const TAB_ATTACH_VERSION = 1;
export const TAB_ATTACH_PATH = '/attach';
/**
 * The /attach socket's subprotocols: the first names the protocol (the companion answers with it);
 * the token, when the companion needs one, travels as a second, `token.<hex of its UTF-8>`. A
 * header, not the URL: URLs end up in logs, history and Referer.
 */
export const TAB_ATTACH_SUBPROTOCOL = 'mesh-llm-attach';

export function attachProtocols(token: string | undefined): string[] {
  if (!token) return [TAB_ATTACH_SUBPROTOCOL];
  const hex = [...new TextEncoder().encode(token)].map((b) => b.toString(16).padStart(2, '0')).join('');
  return [TAB_ATTACH_SUBPROTOCOL, `token.${hex}`];
}

/** The token a client offered in its subprotocols (attachProtocols), or undefined. */
export function tokenFromProtocols(offered: readonly string[]): string | undefined {
  const entry = offered.find((p) => p.startsWith('token.'));
  const hex = entry?.slice('token.'.length) ?? '';
  if (!entry || hex.length % 2 !== 0 || !/^[0-9a-f]*$/.test(hex)) return undefined;
  const bytes = new Uint8Array(hex.length / 2).map((_, i) => Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16));
  return new TextDecoder('utf-8', { fatal: false }).decode(bytes);
}
/** Largest frame: a hello carries whole vocabularies (a 150k-token BPE vocabulary is a few MiB). */
export const MAX_TAB_FRAME_BYTES = 32 * 1024 * 1024;
export const MAX_TAB_MODELS = 8;
/** Tokens a tab may run ahead of what the API has read: bounds buffering and how far an abort lands late. */
export const DEFAULT_TAB_WINDOW = 4;

const TAB_NAME: StringRule = { max: 64, min: 1, pattern: /^[\w.-]+$/, shape: 'letters, digits, "_", "." or "-"' };
const MODEL_ID: StringRule = { max: 200, min: 1, pattern: /^[\w.:/@+-]+$/, shape: 'a model name without spaces' };
const CODE: StringRule = { max: 64, min: 1, pattern: /^[\w.-]+$/, shape: 'an error code like engine_context_overflow' };
const REQUEST_ID: StringRule = { max: 64, min: 1, pattern: /^[\w-]+$/, shape: 'letters, digits, "_" or "-"' };
const MAX_PROMPT = 1 << 20;
const MAX_TOKEN_ID = 1 << 24;
const MAX_METADATA_KEYS = 256;
const MAX_ARRAY = 1 << 22;

/** A typed GGUF array on the wire: its kind and its values as JSON numbers. */
export interface EncodedTypedArray {
  typed: 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'f64';
  values: number[];
}
export type EncodedMetadataValue = string | number | boolean | string[] | boolean[] | EncodedTypedArray;

export interface TabModel {
  id: string;
  contextLength: number;
  /** Layers of the model (all served by the tab): x-mesh-served-by says layers=0-<layers>. */
  layers: number;
  /** The model's `tokenizer.*` GGUF metadata: the companion tokenizes and renders chat templates. */
  tokenizer: Record<string, EncodedMetadataValue>;
}

/** Tab → companion. */
export type TabMessage =
  | { type: 'hello'; version: number; tab: string; models: TabModel[] }
  | { type: 'token'; id: string; token: number }
  | { type: 'done'; id: string }
  | { type: 'error'; id: string; code: string; message: string };

/** Companion → tab. */
export type CompanionMessage =
  | { type: 'welcome'; version: number; peer: string }
  | { type: 'generate'; id: string; model: string; promptTokens: number[]; maxTokens: number; sampling: SamplingParams; window: number }
  /** The API read `n` more tokens: the tab may produce that many more. */
  | { type: 'pull'; id: string; n: number }
  | { type: 'abort'; id: string }
  /** A frame the companion refused (`id` when it concerned one generation). */
  | { type: 'error'; id?: string; code: string; message: string };

const TYPED: Record<EncodedTypedArray['typed'], { integer: boolean; min: number; max: number }> = {
  u8: { integer: true, min: 0, max: 0xff },
  i8: { integer: true, min: -0x80, max: 0x7f },
  u16: { integer: true, min: 0, max: 0xffff },
  i16: { integer: true, min: -0x8000, max: 0x7fff },
  u32: { integer: true, min: 0, max: 0xffffffff },
  i32: { integer: true, min: -0x80000000, max: 0x7fffffff },
  f32: { integer: false, min: -Infinity, max: Infinity },
  f64: { integer: false, min: -Infinity, max: Infinity },
};

function parseJson(text: unknown): unknown {
  if (typeof text !== 'string') reject('malformed', 'a frame must be JSON text');
  if (text.length > MAX_TAB_FRAME_BYTES) reject('too_large', `a frame is limited to ${MAX_TAB_FRAME_BYTES} characters`);
  try {
    return JSON.parse(text);
  } catch {
    return reject('malformed', 'the frame is not valid JSON');
  }
}

function tokenList(v: unknown, path: string, max: number): number[] {
  if (!Array.isArray(v)) reject('malformed', `${path} must be an array of token ids`);
  if (v.length > max) reject('too_large', `${path} has more than ${max} tokens`);
  if (v.length === 0) reject('malformed', `${path} is empty: a prompt has at least one token`);
  for (let i = 0; i < v.length; i++) {
    const t = v[i];
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t >= MAX_TOKEN_ID) reject('malformed', `${path}[${i}] must be a token id`);
  }
  return v as number[];
}

function metadataValue(v: unknown, path: string): EncodedMetadataValue {
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) reject('malformed', `${path} must be finite`);
    return v;
  }
  if (Array.isArray(v)) {
    if (v.length > MAX_ARRAY) reject('too_large', `${path} has more than ${MAX_ARRAY} entries`);
    const kind = typeof v[0];
    if (v.length && kind !== 'string' && kind !== 'boolean') reject('malformed', `${path} must hold strings or booleans (numbers go in a typed array)`);
    for (const x of v) if (typeof x !== kind) reject('malformed', `${path} mixes value types`);
    return v as string[] | boolean[];
  }
  const o = object(v, path);
  const typed = field(o, 'typed');
  const rule = typeof typed === 'string' && Object.hasOwn(TYPED, typed) ? TYPED[typed as EncodedTypedArray['typed']] : undefined;
  if (!rule) reject('malformed', `${path}.typed must be one of ${Object.keys(TYPED).join(', ')}`);
  const values = field(o, 'values');
  if (!Array.isArray(values)) reject('malformed', `${path}.values must be an array of numbers`);
  if (values.length > MAX_ARRAY) reject('too_large', `${path}.values has more than ${MAX_ARRAY} entries`);
  for (const x of values) {
    if (typeof x !== 'number' || !Number.isFinite(x) || (rule.integer && !Number.isInteger(x)) || x < rule.min || x > rule.max) {
      reject('malformed', `${path}.values holds a value outside ${typed as string}`);
    }
  }
  return { typed: typed as EncodedTypedArray['typed'], values: values as number[] };
}

function tabModel(v: unknown, path: string): TabModel {
  const o = object(v, path);
  const meta = object(field(o, 'tokenizer'), `${path}.tokenizer`);
  const keys = Object.keys(meta);
  if (keys.length > MAX_METADATA_KEYS) reject('too_large', `${path}.tokenizer has more than ${MAX_METADATA_KEYS} keys`);
  const tokenizer: Record<string, EncodedMetadataValue> = Object.create(null);
  for (const key of keys) {
    if (!key.startsWith('tokenizer.')) reject('malformed', `${path}.tokenizer may hold only tokenizer.* keys, got "${key}"`);
    tokenizer[key] = metadataValue(meta[key], `${path}.tokenizer["${key}"]`);
  }
  for (const key of ['tokenizer.ggml.model', 'tokenizer.ggml.tokens']) {
    if (!(key in tokenizer)) reject('malformed', `${path}.tokenizer lacks ${key}: send the model's whole tokenizer.* metadata`);
  }
  return {
    id: str(o, 'id', path, MODEL_ID),
    contextLength: num(o, 'contextLength', path, { min: 1, max: 1 << 24, integer: true }),
    layers: num(o, 'layers', path, { min: 1, max: 4096, integer: true }),
    tokenizer,
  };
}

function sampling(v: unknown, path: string): SamplingParams {
  const o = object(v, path);
  const n = (key: string, min: number, max: number) => num(o, key, path, { min, max });
  const s: SamplingParams = {
    temperature: n('temperature', 0, 100),
    topP: n('topP', 0, 1),
    topK: num(o, 'topK', path, { min: 0, max: MAX_TOKEN_ID, integer: true }),
    minP: n('minP', 0, 1),
    presencePenalty: n('presencePenalty', -100, 100),
    frequencyPenalty: n('frequencyPenalty', -100, 100),
    repeatPenalty: n('repeatPenalty', 0, 100),
  };
  const seed = optNum(o, 'seed', path, { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true });
  if (seed !== undefined) s.seed = seed;
  return s;
}

function version(o: Json): number {
  const v = num(o, 'version', 'frame', { min: 0, max: 1 << 30, integer: true });
  if (v !== TAB_ATTACH_VERSION)
    reject(
      'unsupported_version',
      `tab-attach protocol version ${v} is not supported (this side speaks ${TAB_ATTACH_VERSION}); reload the app so both sides match`,
    );
  return v;
}

/** Checks a frame a tab sent. */
export function readTabMessage(text: unknown): Checked<TabMessage> {
  return checked(() => {
    const o = object(parseJson(text), 'frame');
    const type = field(o, 'type');
    switch (type) {
      case 'hello': {
        const models = field(o, 'models');
        if (!Array.isArray(models) || models.length === 0) reject('malformed', 'frame.models must be a non-empty array');
        if (models.length > MAX_TAB_MODELS) reject('too_large', `a tab may announce at most ${MAX_TAB_MODELS} models`);
        return { type, version: version(o), tab: str(o, 'tab', 'frame', TAB_NAME), models: models.map((m, i) => tabModel(m, `frame.models[${i}]`)) };
      }
      case 'token':
        return { type, id: str(o, 'id', 'frame', REQUEST_ID), token: num(o, 'token', 'frame', { min: 0, max: MAX_TOKEN_ID - 1, integer: true }) };
      case 'done':
        return { type, id: str(o, 'id', 'frame', REQUEST_ID) };
      case 'error':
        return {
          type,
          id: str(o, 'id', 'frame', REQUEST_ID),
          code: str(o, 'code', 'frame', CODE),
          message: str(o, 'message', 'frame', { max: 2000 }),
        };
      default:
        return reject('malformed', `frame.type must be hello, token, done or error, got ${JSON.stringify(type) ?? 'nothing'}`);
    }
  });
}

/** Checks a frame the companion sent (the tab trusts the companion no more than the other way round). */
export function readCompanionMessage(text: unknown): Checked<CompanionMessage> {
  return checked(() => {
    const o = object(parseJson(text), 'frame');
    const type = field(o, 'type');
    switch (type) {
      case 'welcome':
        return { type, version: version(o), peer: str(o, 'peer', 'frame', { max: 80, min: 1 }) };
      case 'generate':
        return {
          type,
          id: str(o, 'id', 'frame', REQUEST_ID),
          model: str(o, 'model', 'frame', MODEL_ID),
          promptTokens: tokenList(field(o, 'promptTokens'), 'frame.promptTokens', MAX_PROMPT),
          maxTokens: num(o, 'maxTokens', 'frame', { min: 0, max: 1 << 24, integer: true }),
          sampling: sampling(field(o, 'sampling'), 'frame.sampling'),
          window: num(o, 'window', 'frame', { min: 1, max: 1024, integer: true }),
        };
      case 'pull':
        return { type, id: str(o, 'id', 'frame', REQUEST_ID), n: num(o, 'n', 'frame', { min: 1, max: 1 << 24, integer: true }) };
      case 'abort':
        return { type, id: str(o, 'id', 'frame', REQUEST_ID) };
      case 'error': {
        const id = field(o, 'id');
        return {
          type,
          ...(id === undefined ? {} : { id: str(o, 'id', 'frame', REQUEST_ID) }),
          code: str(o, 'code', 'frame', CODE),
          message: str(o, 'message', 'frame', { max: 2000 }),
        };
      }
      default:
        return reject('malformed', `frame.type must be welcome, generate, pull, abort or error, got ${JSON.stringify(type) ?? 'nothing'}`);
    }
  });
}

/** A model's `tokenizer.*` GGUF metadata for the wire (typed arrays as {typed, values}). */
export function encodeTokenizerMetadata(metadata: ReadonlyMap<string, unknown>): Record<string, EncodedMetadataValue> {
  const out: Record<string, EncodedMetadataValue> = {};
  const kinds: [EncodedTypedArray['typed'], new (...a: never[]) => ArrayLike<number>][] = [
    ['u8', Uint8Array],
    ['i8', Int8Array],
    ['u16', Uint16Array],
    ['i16', Int16Array],
    ['u32', Uint32Array],
    ['i32', Int32Array],
    ['f32', Float32Array],
    ['f64', Float64Array],
  ];
  for (const [key, v] of metadata) {
    if (!key.startsWith('tokenizer.')) continue;
    if (typeof v === 'string' || typeof v === 'boolean' || typeof v === 'number') out[key] = v;
    else if (typeof v === 'bigint') {
      if (Number.isSafeInteger(Number(v))) out[key] = Number(v);
    } else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) out[key] = v as string[];
    else if (Array.isArray(v) && v.every((x) => typeof x === 'boolean')) out[key] = v as boolean[];
    else {
      const kind = kinds.find(([, ctor]) => v instanceof ctor);
      if (kind) out[key] = { typed: kind[0], values: Array.from(v as ArrayLike<number>) };
    }
  }
  return out;
}

/** The inverse of encodeTokenizerMetadata: a metadata map Tokenizer.fromMetadata reads. */
export function decodeTokenizerMetadata(
  encoded: Record<string, EncodedMetadataValue>,
): Map<string, string | number | boolean | string[] | boolean[] | ArrayLike<number>> {
  const ctors = { u8: Uint8Array, i8: Int8Array, u16: Uint16Array, i16: Int16Array, u32: Uint32Array, i32: Int32Array, f32: Float32Array, f64: Float64Array };
  const out = new Map<string, string | number | boolean | string[] | boolean[] | ArrayLike<number>>();
  for (const [key, v] of Object.entries(encoded)) {
    out.set(key, typeof v === 'object' && !Array.isArray(v) ? ctors[v.typed].from(v.values) : v);
  }
  return out;
}
