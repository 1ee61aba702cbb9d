import { join } from 'node:path';
import { cacheDir } from '../llama-source.ts';

/** Where the recipe keeps its intermediate files (corpus tokens, float32 weights, logs). */
export const trainDir = join(cacheDir, 'train');
