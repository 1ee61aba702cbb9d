// Anthropic's Messages API as this mesh serves it: wire types of /v1/messages (and its stream
// events) and /v1/messages/count_tokens, and validators that normalise a request into the shared
// conversation form (tool_result blocks become "tool" turns, tool_use blocks assistant tool calls).
import type { ApiError } from './api-error.ts';
import {
  readSampling,
  type ChatGeneration,
  type ChatTurn,
  type SpeculativeUsage,
  type ToolCall,
  type ToolChoice,
  type ToolSpec,
  type ValidationLimits,
  DEFAULT_LIMITS,
} from './generation.ts';
import {
  describe,
  expectArray,
  expectObject,
  invalid,
  optionalBoolean,
  optionalNumber,
  optionalString,
  path,
  requireField,
  requireString,
  stopList,
  validated,
  type JsonObject,
  type Validated,
} from './json-checks.ts';
import type { MeshInfo } from './openai.ts';

// ---- wire types: responses ----

export type AnthropicStopReason = 'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use';

export interface AnthropicUsage {
  input_tokens: number;
  output_tokens: number;
  speculative?: SpeculativeUsage;
}

export type AnthropicContentBlock = { type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: JsonObject };

export interface AnthropicMessage {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: AnthropicContentBlock[];
  stop_reason: AnthropicStopReason | null;
  stop_sequence: string | null;
  usage: AnthropicUsage;
  mesh?: MeshInfo;
}

export type AnthropicStreamEvent =
  | { type: 'message_start'; message: AnthropicMessage }
  | { type: 'content_block_start'; index: number; content_block: AnthropicContentBlock }
  | { type: 'ping' }
  | { type: 'content_block_delta'; index: number; delta: { type: 'text_delta'; text: string } | { type: 'input_json_delta'; partial_json: string } }
  | { type: 'content_block_stop'; index: number }
  | {
      type: 'message_delta';
      delta: { stop_reason: AnthropicStopReason; stop_sequence: string | null };
      usage: { output_tokens: number; speculative?: SpeculativeUsage };
      mesh?: MeshInfo;
    }
  | { type: 'message_stop' };

export interface AnthropicModel {
  type: 'model';
  id: string;
  display_name: string;
  created_at: string;
  /** Our extra, as in OpenAI's shape: the peers that would compute it now and their layers. */
  mesh?: MeshInfo['served_by'];
}

export interface AnthropicModelList {
  data: AnthropicModel[];
  has_more: boolean;
  first_id: string | null;
  last_id: string | null;
}

export interface AnthropicCountTokens {
  input_tokens: number;
}

// ---- normalised requests ----

export type AnthropicMessagesRequest = ChatGeneration;

const MAX_STOP = 16;
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,128}$/;

function textBlocks(v: unknown, p: string): string {
  if (typeof v === 'string') return v;
  return expectArray(v, p)
    .map((b, i) => {
      const bp = path(p, i);
      const o = expectObject(b, bp);
      if (o.type !== 'text') throw invalid(path(bp, 'type'), `${path(bp, 'type')} must be "text" here, got ${JSON.stringify(o.type)}`);
      return requireString(o, 'text', bp);
    })
    .join('');
}

function unsupportedBlock(type: string, p: string): ApiError {
  if (type === 'image' || type === 'document') return invalid(p, `${p} is a ${type} block, but the mesh serves text-only models; send text blocks only`);
  return invalid(p, `${p} has unknown block type "${type}"; use text, tool_use (assistant) or tool_result (user)`);
}

/** One Anthropic message → one or more turns (each tool_result becomes its own "tool" turn). */
function readMessage(v: unknown, i: number): ChatTurn[] {
  const p = path('messages', i);
  const m = expectObject(v, p);
  const role = requireString(m, 'role', p);
  if (role !== 'user' && role !== 'assistant') {
    throw invalid(path(p, 'role'), `${path(p, 'role')} must be "user" or "assistant" (put system text in the top-level system field); got "${role}"`);
  }
  const cp = path(p, 'content');
  const content = requireField(m, 'content', p);
  if (typeof content === 'string') return [{ role, content }];
  const blocks = expectArray(content, cp);
  const turns: ChatTurn[] = [];
  let text = '';
  const calls: ToolCall[] = [];
  blocks.forEach((b, j) => {
    const bp = path(cp, j);
    const o = expectObject(b, bp);
    const type = requireString(o, 'type', bp);
    if (type === 'text') text += requireString(o, 'text', bp);
    else if (type === 'tool_use' && role === 'assistant') {
      calls.push({
        id: requireString(o, 'id', bp, { nonEmpty: true }),
        name: requireString(o, 'name', bp, { nonEmpty: true }),
        arguments: expectObject(requireField(o, 'input', bp), path(bp, 'input')),
      });
    } else if (type === 'tool_result' && role === 'user') {
      const result = o.content === undefined || o.content === null ? '' : textBlocks(o.content, path(bp, 'content'));
      const isError = optionalBoolean(o, 'is_error', bp) ?? false;
      turns.push({ role: 'tool', content: isError ? `Error: ${result}` : result, toolCallId: requireString(o, 'tool_use_id', bp, { nonEmpty: true }) });
    } else if (type === 'tool_use' || type === 'tool_result') {
      throw invalid(path(bp, 'type'), `${path(bp, 'type')}: ${type} blocks belong in ${type === 'tool_use' ? 'assistant' : 'user'} messages`);
    } else if (type === 'thinking' || type === 'redacted_thinking') {
      // earlier reasoning the client echoes back: not part of the prompt we render
    } else throw unsupportedBlock(type, path(bp, 'type'));
  });
  if (role === 'assistant') {
    const turn: ChatTurn = { role, content: text };
    if (calls.length) turn.toolCalls = calls;
    return [turn];
  }
  if (text !== '' || turns.length === 0) turns.push({ role, content: text });
  return turns;
}

function readTools(body: JsonObject): ToolSpec[] {
  if (body.tools === undefined || body.tools === null) return [];
  return expectArray(body.tools, 'tools').map((t, i) => {
    const p = path('tools', i);
    const o = expectObject(t, p);
    if (o.type !== undefined && o.type !== 'custom') {
      throw invalid(
        path(p, 'type'),
        `${path(p, 'type')}: server tools ("${String(o.type)}") are not available on the mesh; define a custom tool with name and input_schema`,
      );
    }
    const name = requireString(o, 'name', p);
    if (!TOOL_NAME.test(name)) throw invalid(path(p, 'name'), `${path(p, 'name')} must be 1-128 letters, digits, _ or -; got "${name}"`);
    const spec: ToolSpec = { name, parameters: expectObject(requireField(o, 'input_schema', p), path(p, 'input_schema')) };
    const description = optionalString(o, 'description', p);
    if (description !== undefined) spec.description = description;
    return spec;
  });
}

function readToolChoice(body: JsonObject, tools: ToolSpec[]): ToolChoice {
  if (body.tool_choice === undefined || body.tool_choice === null) return tools.length ? 'auto' : 'none';
  const o = expectObject(body.tool_choice, 'tool_choice');
  const type = requireString(o, 'type', 'tool_choice');
  if (type === 'none') return 'none';
  if (tools.length === 0) throw invalid('tool_choice', `tool_choice "${type}" needs a non-empty tools list`);
  if (type === 'auto') return 'auto';
  if (type === 'any') return 'required';
  if (type === 'tool') {
    const name = requireString(o, 'name', 'tool_choice');
    if (!tools.some((t) => t.name === name)) throw invalid('tool_choice.name', `tool_choice names "${name}", which is not in tools`);
    return { name };
  }
  throw invalid('tool_choice.type', `tool_choice.type must be auto, any, tool or none; got "${type}"`);
}

function readConversation(b: JsonObject): { messages: ChatTurn[]; tools: ToolSpec[]; toolChoice: ToolChoice } {
  const raw = expectArray(requireField(b, 'messages'), 'messages');
  if (raw.length === 0) throw invalid('messages', 'messages must hold at least one message');
  const messages = raw.flatMap(readMessage);
  if (b.system !== undefined && b.system !== null) {
    const system = textBlocks(b.system, 'system');
    if (system !== '') messages.unshift({ role: 'system', content: system });
  }
  const tools = readTools(b);
  return { messages, tools, toolChoice: readToolChoice(b, tools) };
}

export function validateMessages(body: unknown, limits: ValidationLimits = DEFAULT_LIMITS): Validated<AnthropicMessagesRequest> {
  return validated(() => {
    const b = expectObject(body, '');
    const model = requireString(b, 'model', '', { nonEmpty: true });
    requireField(b, 'max_tokens');
    const maxTokens = optionalNumber(b, 'max_tokens', { min: 1, max: limits.maxOutputTokens, integer: true });
    if (b.stop_sequences !== undefined && b.stop_sequences !== null && !Array.isArray(b.stop_sequences)) {
      throw invalid('stop_sequences', `stop_sequences must be an array of strings, got ${describe(b.stop_sequences)}`);
    }
    const stop = stopList(b.stop_sequences, 'stop_sequences', MAX_STOP);
    const sampling = readSampling(b, { maxTemperature: 1 });
    const thinking = b.thinking;
    if (thinking !== undefined && thinking !== null && expectObject(thinking, 'thinking').type !== 'disabled') {
      throw invalid('thinking', 'extended thinking is not supported by the mesh; remove thinking or set {"type":"disabled"}');
    }
    const stream = optionalBoolean(b, 'stream') ?? false;
    return { model, maxTokens, sampling, stop, stream, ...readConversation(b) };
  });
}

/** count_tokens takes the same conversation, without max_tokens or sampling. */
export function validateCountTokens(body: unknown): Validated<{ model: string; messages: ChatTurn[]; tools: ToolSpec[]; toolChoice: ToolChoice }> {
  return validated(() => {
    const b = expectObject(body, '');
    return { model: requireString(b, 'model', '', { nonEmpty: true }), ...readConversation(b) };
  });
}
