// Checks the arguments of a tool call the model wrote against the JSON Schema the client gave for
// that tool. @cfworker/json-schema interprets a schema instead of compiling it to code (ajv builds
// each validator with `new Function`), so it runs under a CSP without 'unsafe-eval' and in the
// service worker, which serves this API too.
import { Validator, type Schema } from '@cfworker/json-schema';
import type { JsonObject } from '../protocol/json-checks.ts';
import type { ToolSpec } from '../protocol/generation.ts';

/** Why `args` do not fit the schema of tool `name`, or null when they do (or it has no usable schema). */
export type ArgumentsCheck = (name: string, args: JsonObject) => string | null;

/** "#/items/0/city" → "arguments.items[0].city": the path as the request's own fields are named. */
function argumentPath(instanceLocation: string): string {
  return instanceLocation
    .split('/')
    .slice(1)
    .reduce((p, key) => {
      const k = decodeURIComponent(key).replaceAll('~1', '/').replaceAll('~0', '~');
      return /^\d+$/.test(k) ? `${p}[${k}]` : `${p}.${k}`;
    }, 'arguments');
}

export function toolArgumentsCheck(tools: readonly ToolSpec[]): ArgumentsCheck {
  const validators = new Map<string, Validator>();
  return (name, args) => {
    const tool = tools.find((t) => t.name === name);
    if (!tool) return null;
    let result: ReturnType<Validator['validate']>;
    try {
      let validator = validators.get(name);
      if (!validator) validators.set(name, (validator = new Validator(tool.parameters as Schema, '2020-12')));
      result = validator.validate(args);
    } catch {
      // a schema we cannot evaluate (e.g. a $ref to another document): no grounds to refuse the call
      return null;
    }
    if (result.valid) return null;
    // the deepest error names the field at fault (those above it only say "does not match"); a
    // `false` schema's own error ("False boolean schema.") says less than its parent's
    const telling = result.errors.filter((e) => e.keyword !== 'false');
    const deepest = (telling.length ? telling : result.errors).reduce((a, b) => (b.instanceLocation.length > a.instanceLocation.length ? b : a));
    return `${argumentPath(deepest.instanceLocation)}: ${deepest.error}`;
  };
}
