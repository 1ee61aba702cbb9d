// Finds the tool calls a model wrote in its reply, in the formats common chat templates teach:
// Hermes/Qwen `<tool_call>{json}</tool_call>`, Mistral `[TOOL_CALLS][…]`, and Llama 3.1's bare
// `{"name":…, "parameters":…}`. Text that is not a call stays the reply's content, and so does a
// call whose arguments do not fit its tool's schema: a client runs the calls it gets, so it must
// never get one it cannot run (the `rejected` list says why).
import type { ToolCall } from '../protocol/generation.ts';
import type { ArgumentsCheck } from './tool-schema.ts';

/** A call of an offered tool whose arguments failed its schema, and what failed. */
export interface RejectedCall {
  name: string;
  error: string;
}

export interface ParsedReply {
  content: string;
  toolCalls: ToolCall[];
  /** Present when the reply was left as text because a call's arguments failed the schema. */
  rejected?: RejectedCall[];
}

type Read = ToolCall | RejectedCall | null;

function asCall(v: unknown, id: string, known: ReadonlySet<string>, check: ArgumentsCheck): Read {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  const args = o.arguments ?? o.parameters ?? {};
  if (typeof o.name !== 'string' || !known.has(o.name)) return null;
  let parsed = args;
  if (typeof args === 'string') {
    try {
      parsed = JSON.parse(args);
    } catch {
      return null;
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
  const error = check(o.name, parsed as Record<string, unknown>);
  if (error !== null) return { name: o.name, error };
  return { id, name: o.name, arguments: parsed as Record<string, unknown> };
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Calls when every candidate is a valid call; else the text as it is, with the rejections if any. */
function settle(text: string, content: string, reads: Read[]): ParsedReply {
  if (reads.length > 0 && reads.every((r) => r !== null && 'id' in r)) return { content, toolCalls: reads as ToolCall[] };
  const rejected = reads.filter((r): r is RejectedCall => r !== null && !('id' in r));
  return rejected.length ? { content: text, toolCalls: [], rejected } : { content: text, toolCalls: [] };
}

/**
 * `known`: the tool names offered; a "call" of anything else is left as text. `check`: the
 * arguments' schema check (default: none).
 */
export function parseToolCalls(text: string, known: ReadonlySet<string>, newId: () => string, check: ArgumentsCheck = () => null): ParsedReply {
  const tagged = /<tool_call>\s*([\s\S]*?)\s*<\/tool_call>/g;
  if (tagged.test(text)) {
    tagged.lastIndex = 0;
    let content = text;
    const reads: Read[] = [];
    for (const m of text.matchAll(tagged)) {
      reads.push(asCall(tryJson(m[1]), newId(), known, check));
      content = content.replace(m[0], '');
    }
    return settle(text, content.trim(), reads);
  }
  const trimmed = text.trim();
  const mistral = trimmed.startsWith('[TOOL_CALLS]') ? trimmed.slice('[TOOL_CALLS]'.length).trim() : null;
  const candidate = mistral ?? trimmed;
  if (candidate.startsWith('{') || candidate.startsWith('[')) {
    const v = tryJson(candidate);
    const list = Array.isArray(v) ? v : [v];
    return settle(
      text,
      '',
      list.map((item) => asCall(item, newId(), known, check)),
    );
  }
  return { content: text, toolCalls: [] };
}
