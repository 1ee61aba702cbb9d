import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../../tools/models/registry.ts';
import { loadServedModel, modelIdOf } from './served-model.ts';

const dir = mkdtempSync(join(tmpdir(), 'served-model-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('modelIdOf', () => {
  it('names a model after its file, for paths and URLs', () => {
    expect(modelIdOf('/a/b/tiny-llama-q8_0.gguf')).toBe('tiny-llama-q8_0');
    expect(modelIdOf('https://host.example/x/My%20Model.GGUF?download=1')).toBe('My Model');
  });
});

describe('loadServedModel', () => {
  it('loads a GGUF path on the asked kernels and describes it', async () => {
    const notes: string[] = [];
    const served = await loadServedModel(await ensureModel('tiny-llama-f32'), { backend: 'ref', log: (l) => notes.push(l) });
    try {
      expect(served.info).toMatchObject({ id: 'tiny-llama-f32', backend: 'ref', layers: 2, context_length: 2048 });
      expect(served.model).toMatchObject({ id: 'tiny-llama-f32', peer: 'companion' });
      expect(notes).toEqual([]);
    } finally {
      await served.close();
    }
  });

  it('reports a file that is no model instead of hiding it behind the kernel fallback', async () => {
    const bad = join(dir, 'broken.gguf');
    writeFileSync(bad, 'this is not a GGUF file at all');
    const notes: string[] = [];
    await expect(loadServedModel(bad, { backend: 'cpu', log: (l) => notes.push(l) })).rejects.toThrow(/GGUF|magic/i);
    expect(notes).toEqual([]);
  });
});
