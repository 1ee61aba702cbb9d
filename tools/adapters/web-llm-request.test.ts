// The web-llm request mapping: our sampling, stop strings and limits as OpenAI-style fields, options
// it cannot honour refused by name, and the appConfig that points at self-hosted files.
import { describe, expect, it } from 'vitest';
import { webLlmAppConfig, webLlmRequestFields } from './web-llm-request.ts';

const prompt = { text: 'x' };

describe('webLlmRequestFields', () => {
  it('sends neutral values for everything not asked for (web-llm would use the model config defaults)', () => {
    expect(webLlmRequestFields({ prompt, maxTokens: 16 })).toEqual({
      max_tokens: 16,
      temperature: 1,
      top_p: 1,
      presence_penalty: 0,
      frequency_penalty: 0,
      repetition_penalty: 1,
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('maps sampling, seed and stop strings', () => {
    const f = webLlmRequestFields({
      prompt,
      maxTokens: 3,
      stop: ['###'],
      sampling: { temperature: 0.5, topP: 0.8, presencePenalty: 0.3, frequencyPenalty: 0.2, repeatPenalty: 1.2, seed: 42.9 },
    });
    expect(f).toMatchObject({
      max_tokens: 3,
      temperature: 0.5,
      top_p: 0.8,
      presence_penalty: 0.3,
      frequency_penalty: 0.2,
      repetition_penalty: 1.2,
      seed: 42,
      stop: ['###'],
    });
  });

  it('maps greedy (temperature 0 or below) to temperature 0', () => {
    expect(webLlmRequestFields({ prompt, maxTokens: 1, sampling: { temperature: -1 } }).temperature).toBe(0);
    expect(webLlmRequestFields({ prompt, maxTokens: 1, sampling: { temperature: 0 } }).temperature).toBe(0);
  });

  it('refuses samplers web-llm does not have, instead of ignoring them', () => {
    expect(() => webLlmRequestFields({ prompt, maxTokens: 1, sampling: { topK: 40 } })).toThrow(
      expect.objectContaining({ code: 'adapter_unsupported_option', message: expect.stringContaining('top-k') }),
    );
    expect(() => webLlmRequestFields({ prompt, maxTokens: 1, sampling: { minP: 0.05 } })).toThrow(
      expect.objectContaining({ code: 'adapter_unsupported_option' }),
    );
    expect(() => webLlmRequestFields({ prompt, maxTokens: 1, sampling: { repeatPenalty: 1.1, penaltyLastN: 64 } })).toThrow(
      expect.objectContaining({ code: 'adapter_unsupported_option' }),
    );
    // "off" values are fine: the API always sends a full set
    expect(() => webLlmRequestFields({ prompt, maxTokens: 1, sampling: { topK: 0, minP: 0, penaltyLastN: 64 } })).not.toThrow();
  });

  it('refuses a missing or unlimited max token count', () => {
    expect(() => webLlmRequestFields({ prompt, maxTokens: 0 })).toThrow(expect.objectContaining({ code: 'adapter_bad_input' }));
  });
});

describe('webLlmAppConfig', () => {
  it('builds a one-model config pointing at the given files', () => {
    const c = webLlmAppConfig({
      modelId: 'my-model',
      model: 'https://models.example/my-model/resolve/main/',
      modelLib: 'https://models.example/libs/my-model-webgpu.wasm',
      contextLength: 2048,
      requiredFeatures: ['shader-f16'],
      cacheBackend: 'indexeddb',
    });
    expect(c).toEqual({
      model_list: [
        {
          model: 'https://models.example/my-model/resolve/main/',
          model_id: 'my-model',
          model_lib: 'https://models.example/libs/my-model-webgpu.wasm',
          overrides: { context_window_size: 2048 },
          required_features: ['shader-f16'],
        },
      ],
      cacheBackend: 'indexeddb',
    });
  });

  it('says which location is missing', () => {
    expect(() => webLlmAppConfig({ modelId: 'm', model: '', modelLib: 'x.wasm' })).toThrow(/MLC weights folder/);
    expect(() => webLlmAppConfig({ modelId: 'm', model: 'x/', modelLib: '' })).toThrow(/model library/);
    expect(() => webLlmAppConfig({ modelId: 'm', model: 'x/', modelLib: 'y', contextLength: 0 })).toThrow(/contextLength/);
  });
});
