import { describe, expect, it } from 'vitest';
import { ApiError, anthropicErrorBody } from './api-error.ts';
import { validateCountTokens, validateMessages } from './anthropic.ts';

const base = { model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] };

describe('validateMessages', () => {
  it('normalises system blocks, tool_use and tool_result into turns', () => {
    const r = validateMessages({
      ...base,
      system: [
        { type: 'text', text: 'Be ' },
        { type: 'text', text: 'brief.' },
      ],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Weather in Paris?' }] },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'Checking.' },
            { type: 'tool_use', id: 'tu1', name: 'weather', input: { city: 'Paris' } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'tu1', content: [{ type: 'text', text: 'sunny' }] },
            { type: 'text', text: 'And?' },
          ],
        },
      ],
      stop_sequences: ['\n\nHuman:'],
      temperature: 0.5,
      top_p: 0.9,
      top_k: 5,
      stream: true,
      tools: [{ name: 'weather', description: 'looks it up', input_schema: { type: 'object' } }],
      tool_choice: { type: 'any' },
      metadata: { user_id: 'u' },
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).toEqual({
      model: 'm',
      maxTokens: 10,
      stream: true,
      stop: ['\n\nHuman:'],
      sampling: { temperature: 0.5, topP: 0.9, topK: 5, minP: 0, presencePenalty: 0, frequencyPenalty: 0, repeatPenalty: 1 },
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: 'Checking.', toolCalls: [{ id: 'tu1', name: 'weather', arguments: { city: 'Paris' } }] },
        { role: 'tool', content: 'sunny', toolCallId: 'tu1' },
        { role: 'user', content: 'And?' },
      ],
      tools: [{ name: 'weather', description: 'looks it up', parameters: { type: 'object' } }],
      toolChoice: 'required',
    });
  });

  it.each([
    [{ model: 'm', messages: base.messages }, 'max_tokens', 'is required'],
    [{ ...base, max_tokens: null }, 'max_tokens', 'is required'],
    [{ ...base, max_tokens: 0 }, 'max_tokens', 'at least 1'],
    [{ ...base, max_tokens: 'ten' }, 'max_tokens', 'must be a number'],
    [{ ...base, messages: [{ role: 'system', content: 'x' }] }, 'messages[0].role', 'top-level system'],
    [{ ...base, messages: [{ role: 'user', content: [{ type: 'image', source: {} }] }] }, 'messages[0].content[0].type', 'text-only'],
    [
      { ...base, messages: [{ role: 'user', content: [{ type: 'tool_use', id: 'a', name: 'b', input: {} }] }] },
      'messages[0].content[0].type',
      'assistant messages',
    ],
    [
      { ...base, messages: [{ role: 'assistant', content: [{ type: 'tool_use', id: 'a', name: 'b', input: 'x' }] }] },
      'messages[0].content[0].input',
      'JSON object',
    ],
    [{ ...base, temperature: 1.5 }, 'temperature', 'at most 1'],
    [{ ...base, stop_sequences: 'END' }, 'stop_sequences', 'array of strings'],
    [{ ...base, system: 5 }, 'system', 'must be an array'],
    [{ ...base, tools: [{ type: 'web_search_20250305', name: 'web_search' }] }, 'tools[0].type', 'server tools'],
    [{ ...base, tools: [{ name: 't' }] }, 'tools[0].input_schema', 'is required'],
    [{ ...base, tool_choice: { type: 'tool', name: 'x' } }, 'tool_choice', 'non-empty tools'],
    [{ ...base, thinking: { type: 'enabled', budget_tokens: 1000 } }, 'thinking', 'not supported'],
  ])('refuses %j (%s)', (body, param, message) => {
    const r = validateMessages(body);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.param).toBe(param);
    expect(r.error.message).toContain(message);
    expect(anthropicErrorBody(r.error)).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: r.error.message } });
    expect(r.error.message).toContain(param);
  });
});

describe('validateCountTokens', () => {
  it('needs no max_tokens', () => {
    expect(validateCountTokens({ model: 'm', messages: base.messages }).ok).toBe(true);
  });
});

describe('error shapes', () => {
  it.each([
    ['not_found', 404, 'not_found_error'],
    ['too_large', 413, 'request_too_large'],
    ['rate_limited', 429, 'rate_limit_error'],
    ['unavailable', 503, 'overloaded_error'],
    ['internal', 500, 'api_error'],
  ] as const)('%s is HTTP %i / %s', (kind, status, type) => {
    const e = new ApiError(kind, 'why');
    expect(e.status).toBe(status);
    expect(anthropicErrorBody(e).error.type).toBe(type);
  });
});
