// What --model / MESH_MODEL name: one model or several (the flag repeated, or the variable
// comma-separated), each a test model's name, a .gguf path or an http(s) URL. The companion serves
// them all and the mesh plans each across its server peers (src/companion/companion-mesh-pipeline.ts).
import { join } from 'node:path';
import { ConfigError } from './config-error.ts';

/**
 * The trained target (tools/train/MODEL_CARD.md), committed under models/: it answers in words, so a
 * Playground reply can be judged. Tests name their own models.
 */
export const DEFAULT_MODEL = 'kjv-llama-16m-q8_0';

/** At most this many models: each is a whole engine in the companion's memory. */
export const MAX_MODELS = 8;

/** A registry name stays a name; a .gguf path becomes absolute; an http(s) URL stays as given. */
export function parseModel(raw: string, where: string, root: string): string {
  const text = raw.trim();
  if (/^https?:\/\//i.test(text)) {
    try {
      return new URL(text).href;
    } catch {
      throw new ConfigError(`${where}: ${JSON.stringify(raw)} is not a valid URL`);
    }
  }
  if (/\.gguf$/i.test(text)) return text.startsWith('/') ? text : join(root, text);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(text)) {
    throw new ConfigError(
      `${where} must be a model name such as ${DEFAULT_MODEL}, a path to a .gguf file, or an http(s) URL of one; got ${JSON.stringify(raw)}`,
    );
  }
  return text;
}

/** `a,b` (MESH_MODEL) or one flag's value: each entry checked by parseModel. */
export function parseModels(raw: string, where: string, root: string): string[] {
  const parts = raw.split(',').map((s) => s.trim());
  if (parts.some((s) => s === '')) throw new ConfigError(`${where} has an empty model name in ${JSON.stringify(raw)}; separate models with single commas`);
  return parts.map((s) => parseModel(s, where, root));
}

/** The models of repeated flags, in order, each once; throws over MAX_MODELS. */
export function joinModels(earlier: readonly string[], more: readonly string[], where: string): string[] {
  const all = [...new Set([...earlier, ...more])];
  if (all.length > MAX_MODELS) throw new ConfigError(`${where}: at most ${MAX_MODELS} models, got ${all.length}; each one is loaded whole by the companion`);
  return all;
}
