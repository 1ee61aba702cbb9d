// Our generation request and model location in @mlc-ai/web-llm's terms: an appConfig that points at
// self-hosted MLC weights and model library, and OpenAI-style request fields. Pure, tested in Node.
import { AdapterError } from './errors.ts';
import type { TextGenerateRequest } from './text-engine.ts';
import { checkMaxTokens } from './wllama-request.ts';

/** web-llm's ModelRecord, as far as the adapter fills it. */
export interface WebLlmModelRecord {
  model: string;
  model_id: string;
  model_lib: string;
  overrides?: { context_window_size?: number };
  required_features?: string[];
}

export interface WebLlmAppConfig {
  model_list: WebLlmModelRecord[];
  cacheBackend?: 'cache' | 'indexeddb' | 'opfs';
}

export interface WebLlmModelLocation {
  /** The model id, e.g. "Llama-3.2-1B-Instruct-q4f32_1-MLC". */
  readonly modelId: string;
  /** Folder of the MLC weights (mlc-chat-config.json, tensor-cache.json, params_shard_*.bin, tokenizer files). */
  readonly model: string;
  /** The compiled model library (.wasm) built for that model and this web-llm version. */
  readonly modelLib: string;
  /** Context window to allocate; the model's mlc-chat-config.json value by default. */
  readonly contextLength?: number;
  /** WebGPU features the library needs, e.g. ["shader-f16"] for q4f16 builds: checked before the weights download. */
  readonly requiredFeatures?: readonly string[];
  readonly cacheBackend?: WebLlmAppConfig['cacheBackend'];
}

/**
 * A one-model appConfig. The URLs are passed as given; note that web-llm reads the weights from
 * `<model>/resolve/main/` unless the URL already has a `/resolve/<revision>/` part (the Hugging Face
 * layout), so a self-hosted folder is either laid out that way or named with such a URL.
 */
export function webLlmAppConfig(loc: WebLlmModelLocation): WebLlmAppConfig {
  if (!loc.modelId) throw new AdapterError('adapter_bad_input', 'web-llm needs a model id (any name; it keys the browser cache)');
  for (const [name, url] of [
    ['model', loc.model],
    ['modelLib', loc.modelLib],
  ] as const) {
    if (!url)
      throw new AdapterError(
        'adapter_bad_input',
        `web-llm needs ${name}: the URL of the ${name === 'model' ? 'MLC weights folder' : 'compiled model library (.wasm)'}`,
      );
  }
  if (loc.contextLength !== undefined && !(Number.isInteger(loc.contextLength) && loc.contextLength > 0)) {
    throw new AdapterError('adapter_bad_input', `contextLength must be a positive integer, got ${loc.contextLength}`);
  }
  const record: WebLlmModelRecord = { model: loc.model, model_id: loc.modelId, model_lib: loc.modelLib };
  if (loc.contextLength !== undefined) record.overrides = { context_window_size: loc.contextLength };
  if (loc.requiredFeatures?.length) record.required_features = [...loc.requiredFeatures];
  const config: WebLlmAppConfig = { model_list: [record] };
  if (loc.cacheBackend) config.cacheBackend = loc.cacheBackend;
  return config;
}

/** The OpenAI-style fields web-llm reads; top_k and min_p have no equivalent there. */
export interface WebLlmSamplingFields {
  max_tokens: number;
  temperature: number;
  top_p: number;
  presence_penalty: number;
  frequency_penalty: number;
  repetition_penalty: number;
  seed?: number;
  stop?: string[];
  stream: true;
  stream_options: { include_usage: true };
}

export function webLlmRequestFields(req: TextGenerateRequest): WebLlmSamplingFields {
  checkMaxTokens(req.maxTokens);
  const s = req.sampling ?? {};
  if ((s.topK ?? 0) !== 0)
    throw new AdapterError('adapter_unsupported_option', `web-llm has no top-k sampling (asked for topK ${s.topK}); use topP, or another engine`);
  if ((s.minP ?? 0) !== 0)
    throw new AdapterError('adapter_unsupported_option', `web-llm has no min-p sampling (asked for minP ${s.minP}); use topP, or another engine`);
  const penalties = (s.repeatPenalty ?? 1) !== 1 || (s.presencePenalty ?? 0) !== 0 || (s.frequencyPenalty ?? 0) !== 0;
  if (penalties && s.penaltyLastN !== undefined && s.penaltyLastN !== -1) {
    throw new AdapterError(
      'adapter_unsupported_option',
      `web-llm's penalties look at the whole output, not a window of ${s.penaltyLastN} tokens; leave penaltyLastN unset`,
    );
  }
  const f: WebLlmSamplingFields = {
    max_tokens: req.maxTokens,
    // web-llm samples greedily at temperature 0, as we do at 0 or below.
    temperature: Math.max(0, s.temperature ?? 1),
    top_p: s.topP ?? 1,
    presence_penalty: s.presencePenalty ?? 0,
    frequency_penalty: s.frequencyPenalty ?? 0,
    repetition_penalty: s.repeatPenalty ?? 1,
    stream: true,
    stream_options: { include_usage: true },
  };
  // web-llm refuses a non-integer seed.
  if (s.seed !== undefined) f.seed = Math.floor(s.seed);
  if (req.stop?.length) f.stop = [...req.stop];
  return f;
}
