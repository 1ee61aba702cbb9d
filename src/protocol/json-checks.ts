// Small checks for decoded JSON request bodies: each names the field at fault (as a path like
// "messages[1].content") and says what was expected, so a client knows exactly what to fix.
import { ApiError } from './api-error.ts';

export type JsonObject = Record<string, unknown>;

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return 'a string';
  if (typeof v === 'number') return Number.isFinite(v) ? `the number ${v}` : 'a non-finite number';
  return `${typeof v === 'object' ? 'an' : 'a'} ${typeof v}`;
}

export function invalid(param: string, message: string): ApiError {
  return new ApiError('invalid_request', message, { param });
}

export function path(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return parent ? `${parent}.${key}` : key;
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function expectObject(v: unknown, param: string): JsonObject {
  if (!isObject(v)) throw invalid(param, `${param || 'the request body'} must be a JSON object, got ${describe(v)}`);
  return v;
}

export function expectArray(v: unknown, param: string): unknown[] {
  if (!Array.isArray(v)) throw invalid(param, `${param} must be an array, got ${describe(v)}`);
  return v;
}

export function requireField(o: JsonObject, key: string, parent = ''): unknown {
  const p = path(parent, key);
  if (o[key] === undefined || o[key] === null) throw invalid(p, `${p} is required`);
  return o[key];
}

export function requireString(o: JsonObject, key: string, parent = '', opts: { nonEmpty?: boolean } = {}): string {
  const p = path(parent, key);
  const v = requireField(o, key, parent);
  if (typeof v !== 'string') throw invalid(p, `${p} must be a string, got ${describe(v)}`);
  if (opts.nonEmpty && v.length === 0) throw invalid(p, `${p} must not be empty`);
  return v;
}

export function optionalString(o: JsonObject, key: string, parent = ''): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalid(path(parent, key), `${path(parent, key)} must be a string, got ${describe(v)}`);
  return v;
}

export function optionalBoolean(o: JsonObject, key: string, parent = ''): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw invalid(path(parent, key), `${path(parent, key)} must be true or false, got ${describe(v)}`);
  return v;
}

export interface NumberRange {
  min?: number;
  max?: number;
  /** Exclusive lower bound. */
  above?: number;
  integer?: boolean;
}

export function checkNumber(v: unknown, p: string, range: NumberRange): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(p, `${p} must be a number, got ${describe(v)}`);
  if (range.integer && !Number.isInteger(v)) throw invalid(p, `${p} must be a whole number, got ${v}`);
  if (range.above !== undefined && !(v > range.above)) throw invalid(p, `${p} must be greater than ${range.above}, got ${v}`);
  if (range.min !== undefined && v < range.min) throw invalid(p, `${p} must be at least ${range.min}, got ${v}`);
  if (range.max !== undefined && v > range.max) throw invalid(p, `${p} must be at most ${range.max}, got ${v}`);
  return v;
}

export function optionalNumber(o: JsonObject, key: string, range: NumberRange, parent = ''): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  return checkNumber(v, path(parent, key), range);
}

/** `stop` / `stop_sequences`: a string or an array of non-empty strings, at most `max` of them. */
export function stopList(v: unknown, p: string, max: number): string[] {
  if (v === undefined || v === null) return [];
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list)) throw invalid(p, `${p} must be a string or an array of strings, got ${describe(v)}`);
  if (list.length > max) throw invalid(p, `${p} may hold at most ${max} sequences, got ${list.length}`);
  return list.map((s, i) => {
    if (typeof s !== 'string') throw invalid(path(p, i), `${path(p, i)} must be a string, got ${describe(s)}`);
    if (s.length === 0) throw invalid(path(p, i), `${path(p, i)} must not be empty`);
    return s;
  });
}

export type Validated<T> = { ok: true; value: T } | { ok: false; error: ApiError };

/** Runs a validator written with the throwing checks above and returns its result or its ApiError. */
export function validated<T>(fn: () => T): Validated<T> {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    if (e instanceof ApiError) return { ok: false, error: e };
    throw e;
  }
}
