// `npm run models [name…]`: generates the test models (or the named ones) into .cache/models/; models
// tagged `real` (hundreds of MiB) only when named.
import { statSync } from 'node:fs';
import { relative } from 'node:path';
import { projectRoot } from '../llama-source.ts';
import { ensureModel, MODELS, modelSpec } from './registry.ts';

function human(n: number, unit = ''): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}G${unit}`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M${unit}`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k${unit}`;
  return `${n}${unit}`;
}

const names = process.argv.slice(2);
const specs = names.length ? names.map(modelSpec) : MODELS.filter((m) => !m.tags.includes('real'));
for (const spec of specs) {
  const start = performance.now();
  const path = await ensureModel(spec.name);
  const ms = Math.round(performance.now() - start);
  console.log(
    `${spec.name.padEnd(24)} ${human(spec.params).padStart(7)} params ${human(statSync(path).size, 'B').padStart(8)}  ${relative(projectRoot, path)}  (${ms} ms)`,
  );
}
