import { describe, expect, it } from 'vitest';
import { parseToolCalls } from './tool-calls.ts';

const known = new Set(['weather', 'add']);
let n = 0;
const id = () => `call_${++n}`;

describe('parseToolCalls', () => {
  it('reads Hermes/Qwen <tool_call> blocks and keeps the text around them', () => {
    const r = parseToolCalls(
      'Let me check.\n<tool_call>\n{"name": "weather", "arguments": {"city": "Oslo"}}\n</tool_call>\n<tool_call>{"name":"add","arguments":"{\\"a\\":1}"}</tool_call>',
      known,
      id,
    );
    expect(r.content).toBe('Let me check.');
    expect(r.toolCalls.map((c) => [c.name, c.arguments])).toEqual([
      ['weather', { city: 'Oslo' }],
      ['add', { a: 1 }],
    ]);
  });
  it('reads Llama 3.1 bare JSON and Mistral [TOOL_CALLS]', () => {
    expect(parseToolCalls('{"name": "weather", "parameters": {"city": "Rome"}}', known, id).toolCalls[0]).toMatchObject({
      name: 'weather',
      arguments: { city: 'Rome' },
    });
    expect(parseToolCalls('[TOOL_CALLS][{"name": "add", "arguments": {"a": 2}}]', known, id).toolCalls[0]).toMatchObject({ name: 'add', arguments: { a: 2 } });
  });
  it('leaves text alone when it is not a call of an offered tool', () => {
    for (const text of ['plain answer', '{"name": "rm_rf", "arguments": {}}', '<tool_call>not json</tool_call>', '[]', '{"a": 1}']) {
      expect(parseToolCalls(text, known, id)).toEqual({ content: text, toolCalls: [] });
    }
  });
});
