// Finds the tool calls a model wrote in its reply, in the formats common chat templates teach:
// Hermes/Qwen `<tool_call>{json}</tool_call>`, Mistral `[TOOL_CALLS][…]`, and Llama 3.1's bare
// `{"name":…, "parameters":…}`. Text that is not a call stays the reply's content.
import type { ToolCall } from '../protocol/generation.ts';

export interface ParsedReply {
  content: string;
  toolCalls: ToolCall[];
}

function asCall(v: unknown, id: string, known: ReadonlySet<string>): ToolCall | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  const args = o.arguments ?? o.parameters ?? {};
  if (typeof o.name !== 'string' || !known.has(o.name)) return null;
  let parsed = args;
  if (typeof args === 'string') { try { parsed = JSON.parse(args); } catch { return null; } }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
  return { id, name: o.name, arguments: parsed as Record<string, unknown> };
}

function tryJson(text: string): unknown {
  try { return JSON.parse(text); } catch { return undefined; }
}

/** `known`: the tool names offered; a "call" of anything else is left as text. */
export function parseToolCalls(text: string, known: ReadonlySet<string>, newId: () => string): ParsedReply {
  const calls: ToolCall[] = [];
  const tagged = /<tool_call>\s*([\s\S]*?)\s*<\/tool_call>/g;
  if (tagged.test(text)) {
    tagged.lastIndex = 0;
    let content = text;
    for (const m of text.matchAll(tagged)) {
      const call = asCall(tryJson(m[1]), newId(), known);
      if (!call) return { content: text, toolCalls: [] };
      calls.push(call);
      content = content.replace(m[0], '');
    }
    return { content: content.trim(), toolCalls: calls };
  }
  const trimmed = text.trim();
  const mistral = trimmed.startsWith('[TOOL_CALLS]') ? trimmed.slice('[TOOL_CALLS]'.length).trim() : null;
  const candidate = mistral ?? trimmed;
  if (candidate.startsWith('{') || candidate.startsWith('[')) {
    const v = tryJson(candidate);
    const list = Array.isArray(v) ? v : [v];
    if (list.length === 0) return { content: text, toolCalls: [] };
    for (const item of list) {
      const call = asCall(item, newId(), known);
      if (!call) return { content: text, toolCalls: [] };
      calls.push(call);
    }
    return { content: '', toolCalls: calls };
  }
  return { content: text, toolCalls: [] };
}
