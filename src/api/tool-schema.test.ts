// Tool-call arguments checked against the tool's JSON Schema: a call that fits is a tool call, one
// that does not stays the reply's text with the reason in `mesh.rejected_tool_calls`, in both
// protocols, streamed and not.
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../../tools/models/registry.ts';
import type { ModelText } from '../provider/provider.ts';
import { createApiContext } from './context.ts';
import { handleApiRequest } from './handler.ts';
import { parseSse, post } from './testing/requests.ts';
import { loadModelText, ScriptedProvider, TEST_MODEL } from './testing/scripted-provider.ts';
import { parseToolCalls } from './tool-calls.ts';
import { toolArgumentsCheck } from './tool-schema.ts';

const SCHEMA = {
  type: 'object',
  properties: {
    city: { type: 'string' },
    days: { type: 'integer', minimum: 1 },
    stops: { type: 'array', items: { type: 'object', properties: { at: { type: 'string' } }, required: ['at'] } },
  },
  required: ['city'],
  additionalProperties: false,
};
const TOOLS = [
  { name: 'weather', parameters: SCHEMA },
  { name: 'free', parameters: { type: 'object' } },
];

describe('toolArgumentsCheck', () => {
  const check = toolArgumentsCheck(TOOLS);
  it('passes arguments that fit the schema', () => {
    expect(check('weather', { city: 'Oslo', days: 2, stops: [{ at: 'x' }] })).toBeNull();
    expect(check('free', { anything: [1, 2] })).toBeNull();
  });
  it('names the argument at fault and what the schema expects', () => {
    expect(check('weather', { days: 2 })).toBe('arguments: Instance does not have required property "city".');
    expect(check('weather', { city: 3 })).toBe('arguments.city: Instance type "number" is invalid. Expected "string".');
    expect(check('weather', { city: 'Oslo', days: 0 })).toBe('arguments.days: 0 is less than 1.');
    expect(check('weather', { city: 'Oslo', stops: [{ at: 'a' }, {}] })).toBe('arguments.stops[1]: Instance does not have required property "at".');
    expect(check('weather', { city: 'Oslo', town: 'x' })).toBe('arguments: Property "town" does not match additional properties schema.');
  });
  it('does not refuse what it cannot judge: an unknown tool, a schema with an unresolvable $ref', () => {
    expect(check('nope', { a: 1 })).toBeNull();
    expect(toolArgumentsCheck([{ name: 'r', parameters: { $ref: 'https://example.com/s.json' } }])('r', {})).toBeNull();
  });
});

describe('parseToolCalls with a schema check', () => {
  const known = new Set(['weather', 'free']);
  const check = toolArgumentsCheck(TOOLS);
  let n = 0;
  const id = () => `call_${++n}`;
  it('keeps the whole reply as text when any call fails, and says why', () => {
    const text = '<tool_call>{"name":"weather","arguments":{"city":"Oslo"}}</tool_call><tool_call>{"name":"weather","arguments":{"city":1}}</tool_call>';
    expect(parseToolCalls(text, known, id, check)).toEqual({
      content: text,
      toolCalls: [],
      rejected: [{ name: 'weather', error: 'arguments.city: Instance type "number" is invalid. Expected "string".' }],
    });
    expect(parseToolCalls('{"name": "weather", "parameters": {}}', known, id, check).rejected).toHaveLength(1);
  });
  it('returns calls that fit', () => {
    const r = parseToolCalls('[TOOL_CALLS][{"name": "weather", "arguments": {"city": "Rome"}}]', known, id, check);
    expect(r.toolCalls.map((c) => c.arguments)).toEqual([{ city: 'Rome' }]);
    expect(r.rejected).toBeUndefined();
  });
});

describe('the API with tools whose schema the model misses', () => {
  let text: ModelText;
  beforeAll(async () => {
    text = await loadModelText(await ensureModel(TEST_MODEL));
  });
  const USER = [{ role: 'user', content: 'Weather?' }];
  const GOOD = '<tool_call>\n{"name": "weather", "arguments": {"city": "Paris"}}\n</tool_call>';
  const BAD = '<tool_call>\n{"name": "weather", "arguments": {"city": "Paris", "days": "two"}}\n</tool_call>';
  const WHY = [{ name: 'weather', error: 'arguments.days: Instance type "string" is invalid. Expected "integer".' }];
  const send = (reply: string, path: string, body: object) =>
    handleApiRequest(post(path, body), createApiContext({ provider: new ScriptedProvider({ text, reply }) }));
  const openai = { model: TEST_MODEL, messages: USER, tools: [{ type: 'function', function: { name: 'weather', parameters: SCHEMA } }] };
  const anthropic = { model: TEST_MODEL, max_tokens: 64, messages: USER, tools: [{ name: 'weather', input_schema: SCHEMA }] };

  it('OpenAI: a valid call is tool_calls; an invalid one is content with finish_reason stop', async () => {
    const good = await (await send(GOOD, '/v1/chat/completions', openai)).json();
    expect(good.choices[0]).toMatchObject({
      finish_reason: 'tool_calls',
      message: { content: null, tool_calls: [{ function: { name: 'weather', arguments: '{"city":"Paris"}' } }] },
    });
    expect(good.mesh.rejected_tool_calls).toBeUndefined();
    const bad = await (await send(BAD, '/v1/chat/completions', openai)).json();
    // the text as the tokenizer gives it back (SentencePiece may add a leading space)
    expect(bad.choices[0].finish_reason).toBe('stop');
    expect(bad.choices[0].message.content.trim()).toBe(BAD);
    expect(bad.choices[0].message.tool_calls).toBeUndefined();
    expect(bad.mesh.rejected_tool_calls).toEqual(WHY);
  });

  it('OpenAI streaming: an invalid call streams as content, the finish chunk says why', async () => {
    const frames = parseSse(await (await send(BAD, '/v1/chat/completions', { ...openai, stream: true })).text()).map((f) => f.data);
    expect(frames.at(-1)).toBe('[DONE]');
    const chunks = frames.slice(0, -1).map((d) => JSON.parse(d));
    expect(
      chunks
        .map((c) => c.choices[0].delta.content ?? '')
        .join('')
        .trim(),
    ).toBe(BAD);
    expect(chunks.some((c) => c.choices[0].delta.tool_calls)).toBe(false);
    expect(chunks.at(-1)).toMatchObject({ choices: [{ finish_reason: 'stop' }], mesh: { rejected_tool_calls: WHY } });
    const good = parseSse(await (await send(GOOD, '/v1/chat/completions', { ...openai, stream: true })).text())
      .slice(0, -1)
      .map((f) => JSON.parse(f.data));
    expect(good.at(-1).choices[0].finish_reason).toBe('tool_calls');
  });

  it('Anthropic: a valid call is a tool_use block; an invalid one is a text block with end_turn', async () => {
    const good = await (await send(GOOD, '/v1/messages', anthropic)).json();
    expect(good).toMatchObject({ stop_reason: 'tool_use', content: [{ type: 'tool_use', name: 'weather', input: { city: 'Paris' } }] });
    const bad = await (await send(BAD, '/v1/messages', anthropic)).json();
    expect(bad).toMatchObject({ stop_reason: 'end_turn', content: [{ type: 'text' }], mesh: { rejected_tool_calls: WHY } });
    expect(bad.content).toHaveLength(1);
    expect(bad.content[0].text.trim()).toBe(BAD);
  });

  it('Anthropic streaming: an invalid call streams as a text block, message_delta says why', async () => {
    const events = parseSse(await (await send(BAD, '/v1/messages', { ...anthropic, stream: true })).text()).map((f) => JSON.parse(f.data));
    expect(events.filter((e) => e.type === 'content_block_start').map((e) => e.content_block.type)).toEqual(['text']);
    expect(
      events
        .filter((e) => e.type === 'content_block_delta')
        .map((e) => e.delta.text)
        .join('')
        .trim(),
    ).toBe(BAD);
    expect(events.find((e) => e.type === 'message_delta')).toMatchObject({ delta: { stop_reason: 'end_turn' }, mesh: { rejected_tool_calls: WHY } });
    const good = parseSse(await (await send(GOOD, '/v1/messages', { ...anthropic, stream: true })).text()).map((f) => JSON.parse(f.data));
    expect(good.find((e) => e.type === 'message_delta').delta.stop_reason).toBe('tool_use');
  });
});
