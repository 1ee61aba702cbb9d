// The committed trained models: llama layout in Q8_0, at most 40 MB together, each draft on exactly
// its target's vocabulary, and ensureModel hands out a copy under .cache/models/ (what /models/ serves).
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GgmlType } from '../../src/gguf/ggml-types.ts';
import { parseGgufHeader } from '../../src/gguf/reader.ts';
import { projectRoot } from '../llama-source.ts';
import { modelsDir } from './cache.ts';
import { ensureModel, modelNames, TRAINED_MODELS } from './registry.ts';

const header = (file: string) => parseGgufHeader(new Uint8Array(readFileSync(join(projectRoot, file))));

describe('trained models', () => {
  it('are at most 40 MB together, llama Q8_0 (vectors F32), and known to ensureModel', () => {
    const total = TRAINED_MODELS.reduce((n, m) => n + statSync(join(projectRoot, m.file)).size, 0);
    expect(total).toBeLessThanOrEqual(40e6);
    for (const m of TRAINED_MODELS) {
      const h = header(m.file);
      expect(h.metadata.get('general.architecture')).toBe('llama');
      expect(h.metadata.get('tokenizer.ggml.model')).toBe('llama');
      for (const t of h.tensors) expect(t.type, t.name).toBe(t.shape.length < 2 ? GgmlType.F32 : GgmlType.Q8_0);
      expect(modelNames()).toContain(m.name);
    }
  });

  it('each draft has its target’s vocabulary, token for token', () => {
    for (const d of TRAINED_MODELS.filter((m) => m.draftFor)) {
      const target = TRAINED_MODELS.find((m) => m.name === d.draftFor)!;
      for (const key of ['tokenizer.ggml.tokens', 'tokenizer.ggml.scores', 'tokenizer.ggml.token_type']) {
        expect(header(d.file).metadata.get(key), key).toEqual(header(target.file).metadata.get(key));
      }
    }
  });

  it('ensureModel copies the committed file into .cache/models/', async () => {
    for (const m of TRAINED_MODELS) {
      const path = await ensureModel(m.name);
      expect(path).toBe(join(modelsDir, `${m.name}.gguf`));
      expect(readFileSync(path).equals(readFileSync(join(projectRoot, m.file)))).toBe(true);
    }
  });
});
