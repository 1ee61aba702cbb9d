// What the Models view offers: the test models the companion serves under /models/, and a curated
// list of small real instruct models on Hugging Face (reachable only with internet access).

export interface CatalogModel {
  /** Stable key for storage: the file name without .gguf. */
  id: string;
  title: string;
  /** Absolute, or relative to the app's origin (/models/… from the companion). */
  url: string;
  /** Approximate size for display before the first byte arrives; null when unknown. */
  approxBytes: number | null;
  source: 'bundled' | 'curated' | 'custom';
  note: string;
}

/**
 * Where the companion publishes a model it serves (the file in its models folder): what a mesh stage and
 * `?serve-tab=` read. The weight cache keys by URL + ETag + size, so a model the Models view downloaded
 * is found again only when its catalog URL resolves to this same string (a bundled model's does).
 */
export function publishedModelUrl(id: string, origin: string): string {
  return new URL(`/models/${encodeURIComponent(id)}.gguf`, origin).href;
}

/**
 * Models the companion serves: the trained default (real weights, tools/train/MODEL_CARD.md) and test
 * models (random weights: they produce gibberish, they test the machinery).
 */
export const BUNDLED_MODELS: readonly CatalogModel[] = [
  {
    id: 'kjv-llama-16m-q8_0',
    title: 'KJV Llama 16M Q8_0',
    url: '/models/kjv-llama-16m-q8_0.gguf',
    approxBytes: 16_836_896,
    source: 'bundled',
    note: 'Served by npm start: trained on the King James Version, continues text in its style.',
  },
  {
    id: 'tiny-llama-q8_0',
    title: 'Tiny Llama Q8_0',
    url: '/models/tiny-llama-q8_0.gguf',
    approxBytes: 5_183_072,
    source: 'bundled',
    note: 'Test model; random weights.',
  },
  {
    id: 'tiny-llama-f16',
    title: 'Tiny Llama F16',
    url: '/models/tiny-llama-f16.gguf',
    approxBytes: 9_115_200,
    source: 'bundled',
    note: 'Test model; random weights.',
  },
  {
    id: 'small-llama-q4_k_m',
    title: 'Small Llama Q4_K_M',
    url: '/models/small-llama-q4_k_m.gguf',
    approxBytes: 12_764_288,
    source: 'bundled',
    note: 'Test model in llama.cpp’s Q4_K_M layout; random weights.',
  },
];

const hf = (repo: string, file: string) => `https://huggingface.co/${repo}/resolve/main/${file}`;

export const CURATED_MODELS: readonly CatalogModel[] = [
  {
    id: 'qwen2.5-0.5b-instruct-q4_k_m',
    title: 'Qwen2.5 0.5B Instruct',
    url: hf('Qwen/Qwen2.5-0.5B-Instruct-GGUF', 'qwen2.5-0.5b-instruct-q4_k_m.gguf'),
    approxBytes: 491_000_000,
    source: 'curated',
    note: 'Q4_K_M · Apache-2.0 · a good first real model.',
  },
  {
    id: 'qwen2.5-1.5b-instruct-q4_k_m',
    title: 'Qwen2.5 1.5B Instruct',
    url: hf('Qwen/Qwen2.5-1.5B-Instruct-GGUF', 'qwen2.5-1.5b-instruct-q4_k_m.gguf'),
    approxBytes: 1_120_000_000,
    source: 'curated',
    note: 'Q4_K_M · Apache-2.0 · better answers, needs about 1.5 GB.',
  },
  {
    id: 'llama-3.2-1b-instruct-q4_k_m',
    title: 'Llama 3.2 1B Instruct',
    url: hf('bartowski/Llama-3.2-1B-Instruct-GGUF', 'Llama-3.2-1B-Instruct-Q4_K_M.gguf'),
    approxBytes: 808_000_000,
    source: 'curated',
    note: 'Q4_K_M · Llama 3.2 Community License.',
  },
  {
    id: 'smollm2-360m-instruct-q8_0',
    title: 'SmolLM2 360M Instruct',
    url: hf('HuggingFaceTB/SmolLM2-360M-Instruct-GGUF', 'smollm2-360m-instruct-q8_0.gguf'),
    approxBytes: 386_000_000,
    source: 'curated',
    note: 'Q8_0 · Apache-2.0 · smallest real model here.',
  },
];

export class CatalogUrlError extends Error {
  readonly code = 'model_url_invalid';
  constructor(message: string) {
    super(message);
    this.name = 'CatalogUrlError';
  }
}

/** A custom entry from a URL someone pasted; refuses what cannot be a downloadable GGUF. */
export function customModel(input: string, base: string): CatalogModel {
  let url: URL;
  try {
    url = new URL(input.trim(), base);
  } catch {
    throw new CatalogUrlError(`“${input}” is not a URL; paste a link to a .gguf file, e.g. ${CURATED_MODELS[0].url}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new CatalogUrlError(`only http(s) links can be downloaded, not ${url.protocol}`);
  const file = decodeURIComponent(url.pathname.split('/').pop() ?? '');
  if (!/\.gguf$/i.test(file))
    throw new CatalogUrlError(`the link should end in .gguf (got “${file || url.pathname}”); on Hugging Face use the file’s “resolve/main/…” link`);
  const id = file
    .replace(/\.gguf$/i, '')
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-');
  return { id, title: file, url: url.href, approxBytes: null, source: 'custom', note: url.host };
}
