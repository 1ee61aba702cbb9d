import { describe, expect, it } from 'vitest';
import { BUNDLED_MODELS, CatalogUrlError, CURATED_MODELS, customModel, publishedModelUrl } from './models-catalog.ts';

describe('model catalog', () => {
  it('curated models are Hugging Face resolve links to .gguf files with unique ids', () => {
    for (const m of CURATED_MODELS) expect(m.url).toMatch(/^https:\/\/huggingface\.co\/[^/]+\/[^/]+\/resolve\/main\/[^/]+\.gguf$/);
    const ids = [...BUNDLED_MODELS, ...CURATED_MODELS].map((m) => m.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('bundled models are served by the companion under /models/', () => {
    for (const m of BUNDLED_MODELS) expect(m.url).toBe(`/models/${m.id}.gguf`);
  });

  it('accepts a custom GGUF link and derives a storage id', () => {
    const m = customModel(' https://example.com/a/My%20Model.Q4_K_M.gguf?download=1 ', 'http://app');
    expect(m).toMatchObject({ id: 'my-model.q4_k_m', title: 'My Model.Q4_K_M.gguf', source: 'custom' });
    expect(customModel('/models/x.gguf', 'http://127.0.0.1:5').url).toBe('http://127.0.0.1:5/models/x.gguf');
  });

  it('refuses links that are not GGUF files over http(s)', () => {
    expect(() => customModel('https://example.com/model.bin', 'http://app')).toThrow(CatalogUrlError);
    expect(() => customModel('ftp://example.com/m.gguf', 'http://app')).toThrow(/http/);
    expect(() => customModel('http://[bad', 'http://app')).toThrow(/not a URL/);
  });
});

describe('cache keys of the Models view and of mesh stages', () => {
  const origin = 'http://127.0.0.1:8080';
  it('agree for the models the companion publishes: a bundled entry resolves to the URL a stage opens', () => {
    for (const m of BUNDLED_MODELS) expect(new URL(m.url, origin).href).toBe(publishedModelUrl(m.id, origin));
  });
});
