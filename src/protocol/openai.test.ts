import { describe, expect, it } from 'vitest';
import { openAiErrorBody } from './api-error.ts';
import { validateChatCompletion, validateCompletion, type Validated } from './openai.ts';

const base = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };

function bad(body: unknown, validate: (b: unknown) => Validated<unknown> = validateChatCompletion) {
  const r = validate(body);
  if (r.ok) throw new Error(`expected ${JSON.stringify(body)} to be refused`);
  return r.error;
}

describe('validateChatCompletion', () => {
  it('normalises a full request', () => {
    const r = validateChatCompletion({
      ...base,
      messages: [
        { role: 'developer', content: 'be brief' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is ' },
            { type: 'text', text: '2+2?' },
          ],
        },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'add', arguments: '{"a":2,"b":2}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: '4' },
      ],
      stream: true,
      stream_options: { include_usage: true },
      max_completion_tokens: 20,
      temperature: 0,
      top_p: 0.9,
      seed: 7,
      stop: 'END',
      n: 1,
      top_k: 40,
      min_p: 0.05,
      presence_penalty: 0.5,
      frequency_penalty: -0.5,
      repeat_penalty: 1.1,
      tools: [{ type: 'function', function: { name: 'add', description: 'adds', parameters: { type: 'object' } } }],
      tool_choice: { type: 'function', function: { name: 'add' } },
      some_future_field: 1,
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).toEqual({
      model: 'm',
      stream: true,
      includeUsage: true,
      maxTokens: 20,
      stop: ['END'],
      sampling: { temperature: 0, topP: 0.9, topK: 40, minP: 0.05, presencePenalty: 0.5, frequencyPenalty: -0.5, repeatPenalty: 1.1, seed: 7 },
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'What is 2+2?' },
        { role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'add', arguments: { a: 2, b: 2 } }] },
        { role: 'tool', content: '4', toolCallId: 'c1' },
      ],
      tools: [{ name: 'add', description: 'adds', parameters: { type: 'object' } }],
      toolChoice: { name: 'add' },
    });
  });

  it('uses defaults for what is left out', () => {
    const r = validateChatCompletion(base);
    expect(r.ok && r.value).toMatchObject({
      stream: false,
      includeUsage: false,
      maxTokens: undefined,
      stop: [],
      toolChoice: 'none',
      sampling: { temperature: 1, topP: 1 },
    });
  });

  it('reads logprobs: true with top_logprobs (default 0); absent or false is off', () => {
    const on = validateChatCompletion({ ...base, logprobs: true, top_logprobs: 20 });
    expect(on.ok && on.value.logprobs).toBe(20);
    const bare = validateChatCompletion({ ...base, logprobs: true });
    expect(bare.ok && bare.value.logprobs).toBe(0);
    for (const logprobs of [false, null, undefined]) {
      const off = validateChatCompletion({ ...base, logprobs });
      expect(off.ok && off.value.logprobs).toBeUndefined();
    }
  });

  it('takes max_tokens when max_completion_tokens is absent', () => {
    const r = validateChatCompletion({ ...base, max_tokens: 5 });
    expect(r.ok && r.value.maxTokens).toBe(5);
  });

  it.each([
    [[], '', 'must be a JSON object'],
    [{ messages: base.messages }, 'model', 'model is required'],
    [{ ...base, model: 3 }, 'model', 'must be a string'],
    [{ ...base, messages: [] }, 'messages', 'at least one'],
    [{ ...base, messages: 'hi' }, 'messages', 'must be an array'],
    [{ ...base, messages: [{ role: 'wizard', content: 'x' }] }, 'messages[0].role', 'must be one of'],
    [{ ...base, messages: [{ role: 'user' }] }, 'messages[0].content', 'is required'],
    [{ ...base, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }, 'messages[0].content[0].type', 'text-only'],
    [{ ...base, messages: [{ role: 'tool', content: 'x' }] }, 'messages[0].tool_call_id', 'is required'],
    [
      { ...base, messages: [{ role: 'assistant', content: null, tool_calls: [{ function: { name: 'f', arguments: '{oops' } }] }] },
      'messages[0].tool_calls[0].function.arguments',
      'JSON object',
    ],
    [{ ...base, max_tokens: 0 }, 'max_tokens', 'at least 1'],
    [{ ...base, max_tokens: -5 }, 'max_tokens', 'at least 1'],
    [{ ...base, max_tokens: 2.5 }, 'max_tokens', 'whole number'],
    [{ ...base, max_tokens: 1e12 }, 'max_tokens', 'at most'],
    [{ ...base, max_completion_tokens: '10' }, 'max_completion_tokens', 'must be a number'],
    [{ ...base, temperature: 3 }, 'temperature', 'at most 2'],
    [{ ...base, top_p: 0 }, 'top_p', 'greater than 0'],
    [{ ...base, n: 2 }, 'n', 'n must be 1'],
    [{ ...base, stream: 'yes' }, 'stream', 'true or false'],
    [{ ...base, stream_options: { include_usage: true } }, 'stream_options', 'only allowed when stream is true'],
    [{ ...base, stop: 5 }, 'stop', 'string or an array'],
    [{ ...base, stop: [''] }, 'stop[0]', 'must not be empty'],
    [{ ...base, stop: Array(17).fill('x') }, 'stop', 'at most 16'],
    [{ ...base, seed: 1.5 }, 'seed', 'whole number'],
    [{ ...base, logprobs: 'yes' }, 'logprobs', 'true or false'],
    [{ ...base, top_logprobs: 3 }, 'top_logprobs', 'needs logprobs: true'],
    [{ ...base, logprobs: true, top_logprobs: 21 }, 'top_logprobs', 'at most 20'],
    [{ ...base, logprobs: true, top_logprobs: -1 }, 'top_logprobs', 'at least 0'],
    [{ ...base, logprobs: true, top_logprobs: 1.5 }, 'top_logprobs', 'whole number'],
    [{ ...base, response_format: { type: 'json_object' } }, 'response_format.type', 'not supported'],
    [{ ...base, tools: [{ type: 'function', function: { name: 'bad name!' } }] }, 'tools[0].function.name', 'letters'],
    [{ ...base, tool_choice: 'required' }, 'tool_choice', 'non-empty tools'],
    [
      { ...base, tools: [{ type: 'function', function: { name: 'a' } }], tool_choice: { type: 'function', function: { name: 'b' } } },
      'tool_choice.function.name',
      'not in tools',
    ],
  ])('refuses %j (%s)', (body, param, message) => {
    const e = bad(body);
    expect(e.status).toBe(400);
    expect(e.param).toBe(param);
    expect(e.message).toContain(message);
    expect(openAiErrorBody(e)).toEqual({ error: { message: e.message, type: 'invalid_request_error', param, code: null } });
  });
});

describe('validateCompletion', () => {
  it('accepts text, one-element arrays and token ids; max_tokens defaults to 16', () => {
    for (const [prompt, want] of [
      ['hi', 'hi'],
      [['hi'], 'hi'],
      [
        [1, 2, 3],
        [1, 2, 3],
      ],
      [[[4, 5]], [4, 5]],
    ] as const) {
      const r = validateCompletion({ model: 'm', prompt });
      expect(r.ok && r.value).toMatchObject({ prompt: want, maxTokens: 16 });
    }
  });
  it('reads logprobs and echo; max_tokens 0 only with echo', () => {
    const r = validateCompletion({ model: 'm', prompt: 'x', logprobs: 5, echo: true, max_tokens: 0 });
    expect(r.ok && r.value).toMatchObject({ logprobs: 5, echo: true, maxTokens: 0 });
    const off = validateCompletion({ model: 'm', prompt: 'x', logprobs: null });
    expect(off.ok && off.value.logprobs).toBeUndefined();
  });
  it.each([
    [{ model: 'm' }, 'prompt'],
    [{ model: 'm', prompt: ['a', 'b'] }, 'prompt'],
    [{ model: 'm', prompt: [] }, 'prompt'],
    [{ model: 'm', prompt: [1, -2] }, 'prompt[1]'],
    [{ model: 'm', prompt: [{}] }, 'prompt[0]'],
    [{ model: 'm', prompt: 'x', echo: 'yes' }, 'echo'],
    [{ model: 'm', prompt: 'x', max_tokens: 0 }, 'max_tokens'],
    [{ model: 'm', prompt: 'x', logprobs: true }, 'logprobs'],
    [{ model: 'm', prompt: 'x', logprobs: 21 }, 'logprobs'],
    [{ model: 'm', prompt: 'x', logprobs: -1 }, 'logprobs'],
    [{ model: 'm', prompt: 'x', suffix: 'y' }, 'suffix'],
    [{ model: 'm', prompt: 'x', best_of: 3 }, 'best_of'],
  ])('refuses %j at %s', (body, param) => {
    expect(bad(body, validateCompletion).param).toBe(param);
  });
});
