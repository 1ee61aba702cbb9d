// The llama-server request mapping and chunk reading behind the wllama adapter.
import { describe, expect, it } from 'vitest';
import { readWllamaChunk, wllamaSamplingParams } from './wllama-request.ts';

describe('wllamaSamplingParams', () => {
  it('turns every llama-server sampler off unless asked, so defaults match ours', () => {
    const p = wllamaSamplingParams({ prompt: { text: 'x' }, maxTokens: 5 });
    expect(p).toEqual({
      max_tokens: 5,
      temperature: 1,
      top_k: 0,
      top_p: 1,
      min_p: 0,
      repeat_penalty: 1,
      repeat_last_n: 64,
      presence_penalty: 0,
      frequency_penalty: 0,
      n_probs: 1,
    });
  });

  it('maps our sampling options, seed and stop strings', () => {
    const p = wllamaSamplingParams({
      prompt: { text: 'x' },
      maxTokens: 9,
      stop: ['\n\n', 'END'],
      sampling: {
        temperature: 0.7,
        topK: 20,
        topP: 0.9,
        minP: 0.1,
        repeatPenalty: 1.1,
        penaltyLastN: 32,
        presencePenalty: 0.5,
        frequencyPenalty: 0.25,
        seed: 2 ** 33 + 7,
      },
    });
    expect(p).toMatchObject({
      max_tokens: 9,
      temperature: 0.7,
      top_k: 20,
      top_p: 0.9,
      min_p: 0.1,
      repeat_penalty: 1.1,
      repeat_last_n: 32,
      presence_penalty: 0.5,
      frequency_penalty: 0.25,
      stop: ['\n\n', 'END'],
    });
    expect(p.seed).toBe(7); // llama-server's seed is a uint32
  });

  it('refuses a max token count llama-server would read as unlimited', () => {
    for (const maxTokens of [0, -1, 1.5]) {
      expect(() => wllamaSamplingParams({ prompt: { text: 'x' }, maxTokens })).toThrow(expect.objectContaining({ code: 'adapter_bad_input' }));
    }
  });
});

describe('readWllamaChunk', () => {
  it('reads a completion chunk with its token id', () => {
    const r = readWllamaChunk({ choices: [{ text: ' velocity', finish_reason: null, logprobs: { content: [{ id: 12885 }] } }] });
    expect(r).toEqual({ text: ' velocity', tokens: [12885] });
  });

  it('reads a chat delta holding several tokens (a character completed late)', () => {
    const r = readWllamaChunk({ choices: [{ delta: { content: 'é' }, logprobs: { content: [{ id: 200 }, { id: 201 }] } }] });
    expect(r).toEqual({ text: 'é', tokens: [200, 201] });
  });

  it('reads the finish reason and usage of a completion stream', () => {
    const r = readWllamaChunk({ choices: [{ text: '', finish_reason: 'length' }], usage: { prompt_tokens: 6, completion_tokens: 3 } });
    expect(r).toEqual({ text: '', tokens: [], finishReason: 'length', usage: { promptTokens: 6, completionTokens: 3 } });
  });

  it('counts a chat stream prompt from its timings, cached part included', () => {
    const r = readWllamaChunk({ choices: [{ delta: {}, finish_reason: 'stop' }], timings: { prompt_n: 4, cache_n: 25, predicted_n: 3 } });
    expect(r.finishReason).toBe('stop');
    expect(r.usage).toEqual({ promptTokens: 29, completionTokens: 3 });
  });
});
