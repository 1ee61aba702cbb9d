// The layering of src/ and workers/, checked from the import statements themselves: each layer may
// import only the layers below it, production code never imports test code, and test code (`*.test.ts`
// and `testing/` folders) may import anything. Type-only imports count; a worker referenced with
// `new URL('…', import.meta.url)` does not (it is a separate bundle, not an import).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';

/**
 * Lowest first. Layers on one row are siblings: neither imports the other. `companion` (the Node side)
 * sits beside the browser's client: it may use everything up to mesh and api, and nothing but tests
 * may import it.
 */
export const LAYER_ROWS: readonly (readonly string[])[] = [
  ['protocol'],
  ['gguf'],
  ['storage'],
  ['tokenizer'],
  ['kernels'],
  ['engine'],
  ['provider'],
  ['mesh', 'api'],
  ['client', 'companion'],
  ['ui'],
  ['widget'],
  ['app', 'workers'],
];

/** What each layer may import besides itself. */
function allowedBelow(): Map<string, Set<string>> {
  const allowed = new Map<string, Set<string>>();
  const seen: string[] = [];
  for (const row of LAYER_ROWS) {
    for (const layer of row) allowed.set(layer, new Set(seen.filter((l) => l !== 'companion')));
    seen.push(...row);
  }
  return allowed;
}

/** The layer of a path relative to the repository root (posix separators), or undefined outside src/ and workers/. */
export function layerOf(path: string): string | undefined {
  const parts = path.split('/');
  if (parts[0] === 'workers') return 'workers';
  if (parts[0] !== 'src' || parts.length < 3) return undefined;
  return parts[1];
}

export function isTestCode(path: string): boolean {
  return path.endsWith('.test.ts') || path.split('/').includes('testing');
}

export interface Violation {
  file: string;
  imported: string;
  why: string;
}

const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"]+)\1/g;

/** The repository-relative paths a file's source imports (relative specifiers only; packages are not layers). */
export function importsOf(file: string, source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(IMPORT)) out.push(posix.normalize(posix.join(posix.dirname(file), m[2])));
  return out;
}

/** Checks one file's imports; `files` maps repository-relative paths to their source. */
export function checkLayers(files: ReadonlyMap<string, string>): Violation[] {
  const allowed = allowedBelow();
  const violations: Violation[] = [];
  for (const [file, source] of files) {
    const from = layerOf(file);
    if (from === undefined || isTestCode(file)) continue;
    if (!allowed.has(from)) {
      violations.push({ file, imported: '', why: `src/${from}/ is not a layer: add it to LAYER_ROWS in tools/layers/layers.ts` });
      continue;
    }
    for (const imported of importsOf(file, source)) {
      const to = layerOf(imported);
      if (isTestCode(imported)) violations.push({ file, imported, why: 'production code imports test code' });
      else if (to === undefined) violations.push({ file, imported, why: 'production code imports from outside src/ and workers/' });
      else if (to !== from && !allowed.get(from)!.has(to))
        violations.push({ file, imported, why: `${from} may not import ${to} (imports flow one way: see LAYER_ROWS)` });
    }
  }
  return violations;
}

/** Every .ts file under src/ and workers/ of a checkout, keyed by repository-relative path. */
export function readTree(root: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.ts')) files.set(relative(root, path).split(sep).join('/'), readFileSync(path, 'utf8'));
    }
  };
  for (const top of ['src', 'workers']) walk(join(root, top));
  return files;
}

export function describeViolation(v: Violation): string {
  return v.imported ? `${v.file} imports ${v.imported}: ${v.why}` : `${v.file}: ${v.why}`;
}

export const repositoryRoot = join(dirname(new URL(import.meta.url).pathname), '..', '..');
