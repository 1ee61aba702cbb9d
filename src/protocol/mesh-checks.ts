// Strict, never-throwing checks for mesh wire data (announcements, gossip, plans): every value a peer
// receives is untrusted, so each field is checked for type, range and size, and the result names
// the field at fault instead of throwing into the network loop.

export type MeshRejectCode =
  | 'malformed'
  | 'too_large'
  | 'forbidden_key'
  | 'unsupported_version'
  | 'expired'
  | 'not_yet_valid'
  | 'bad_signature'
  | 'binding_mismatch'
  | 'wrong_mesh'
  | 'undecryptable';

export type Checked<T> = { ok: true; value: T } | { ok: false; code: MeshRejectCode; reason: string };

/** Thrown only inside `checked()`, which turns it into a rejection. */
export class Rejection extends Error {
  readonly code: MeshRejectCode;
  constructor(code: MeshRejectCode, reason: string) {
    super(reason);
    this.name = 'Rejection';
    this.code = code;
  }
}

export function reject(code: MeshRejectCode, reason: string): never {
  throw new Rejection(code, reason);
}

export function rejected<T>(code: MeshRejectCode, reason: string): Checked<T> {
  return { ok: false, code, reason };
}

/** Runs a validator; anything it throws (a Rejection, or a hostile getter) becomes a rejection. */
export function checked<T>(fn: () => T): Checked<T> {
  try {
    return { ok: true, value: fn() };
  } catch (error) {
    if (error instanceof Rejection) return { ok: false, code: error.code, reason: error.message };
    return { ok: false, code: 'malformed', reason: `unreadable input (${safeMessage(error)})` };
  }
}

function safeMessage(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return 'unknown error';
  }
}

export type Json = Record<string, unknown>;

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number') return Number.isFinite(v) ? `the number ${v}` : 'a non-finite number';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** A plain JSON object with no keys that could pollute prototypes when copied. */
export function object(v: unknown, path: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) reject('malformed', `${path} must be an object, got ${describe(v)}`);
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) reject('malformed', `${path} must be a plain object`);
  for (const key of Object.keys(v)) {
    if (FORBIDDEN_KEYS.has(key)) reject('forbidden_key', `${path} has the forbidden key "${key}"`);
  }
  return v as Json;
}

export function field(o: Json, key: string): unknown {
  return Object.hasOwn(o, key) ? o[key] : undefined;
}

function at(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

export interface StringRule {
  max: number;
  min?: number;
  pattern?: RegExp;
  /** Human words for the pattern, used in the rejection reason. */
  shape?: string;
}

export function stringValue(v: unknown, path: string, rule: StringRule): string {
  if (typeof v !== 'string') reject('malformed', `${path} must be a string, got ${describe(v)}`);
  if (v.length > rule.max) reject('too_large', `${path} is longer than ${rule.max} characters`);
  if (v.length < (rule.min ?? 0)) reject('malformed', `${path} is shorter than ${rule.min} characters`);
  if (rule.pattern && !rule.pattern.test(v)) reject('malformed', `${path} must be ${rule.shape ?? `like ${rule.pattern}`}`);
  return v;
}

export function str(o: Json, key: string, path: string, rule: StringRule): string {
  return stringValue(field(o, key), at(path, key), rule);
}

export function optStr(o: Json, key: string, path: string, rule: StringRule): string | undefined {
  const v = field(o, key);
  return v === undefined ? undefined : stringValue(v, at(path, key), rule);
}

export interface NumberRule {
  min: number;
  max: number;
  integer?: boolean;
}

export function numberValue(v: unknown, path: string, rule: NumberRule): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) reject('malformed', `${path} must be a finite number, got ${describe(v)}`);
  if (rule.integer && !Number.isInteger(v)) reject('malformed', `${path} must be an integer, got ${v}`);
  if (v < rule.min || v > rule.max) reject('malformed', `${path} must be between ${rule.min} and ${rule.max}, got ${v}`);
  return v;
}

export function num(o: Json, key: string, path: string, rule: NumberRule): number {
  return numberValue(field(o, key), at(path, key), rule);
}

export function optNum(o: Json, key: string, path: string, rule: NumberRule): number | undefined {
  const v = field(o, key);
  return v === undefined ? undefined : numberValue(v, at(path, key), rule);
}

export function bool(o: Json, key: string, path: string): boolean {
  const v = field(o, key);
  if (typeof v !== 'boolean') reject('malformed', `${at(path, key)} must be true or false, got ${describe(v)}`);
  return v;
}

export function oneOf<T extends string>(o: Json, key: string, path: string, values: readonly T[]): T {
  const v = field(o, key);
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
    reject('malformed', `${at(path, key)} must be one of ${values.join(', ')}, got ${describe(v)}`);
  }
  return v as T;
}

/** An array of at most `max` items, each checked by `each`. */
export function list<T>(o: Json, key: string, path: string, max: number, each: (v: unknown, path: string) => T): T[] {
  const v = field(o, key);
  const p = at(path, key);
  if (!Array.isArray(v)) reject('malformed', `${p} must be an array, got ${describe(v)}`);
  if (v.length > max) reject('too_large', `${p} has ${v.length} items; at most ${max} are allowed`);
  const out: T[] = [];
  for (let i = 0; i < v.length; i++) out.push(each(v[i], `${p}[${i}]`));
  return out;
}

export const PEER_ID_RULE: StringRule = {
  max: 128,
  // base58btc multihash peer ids: Ed25519 ("12D3KooW…"), RSA/secp256k1 ("Qm…", "16Uiu2…").
  pattern: /^[1-9A-HJ-NP-Za-km-z]{40,128}$/,
  shape: 'a base58 libp2p peer id',
};

export const HEX64_RULE: StringRule = { max: 64, pattern: /^[0-9a-f]{64}$/, shape: '64 lowercase hex characters' };

export const BASE64URL_RULE: StringRule = { max: 4096, pattern: /^[A-Za-z0-9_-]*$/, shape: 'base64url text' };

export const MULTIADDR_RULE: StringRule = { max: 512, pattern: /^\/[\x21-\x7e]+$/, shape: 'a multiaddr such as /ip4/127.0.0.1/tcp/4001/ws' };

export const MODEL_ID_RULE: StringRule = { max: 512, min: 1, pattern: /^[\x20-\x7e]+$/, shape: 'printable ASCII' };
