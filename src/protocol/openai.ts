// OpenAI's HTTP API as this mesh serves it: the wire types of /v1/models, /v1/chat/completions and
// /v1/completions, and validators that turn a decoded body into a normalised request or an ApiError
// naming the field to fix. Unknown fields are ignored (SDKs add new ones); unsupported ones are refused.
import {
  readSampling,
  type ChatGeneration,
  type ChatTurn,
  type GenerationSpec,
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
  isObject,
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

export type { Validated } from './json-checks.ts';

// ---- wire types: responses ----

export type OpenAiFinishReason = 'stop' | 'length' | 'tool_calls';

export interface OpenAiUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /** Present when part of the prompt's KV cache was reused from an earlier request (a subset of prompt_tokens). */
  prompt_tokens_details?: { cached_tokens: number };
  speculative?: SpeculativeUsage;
}

/** Which peers computed which layers; a field the SDKs ignore, mirrored in the x-mesh-served-by header. */
export interface MeshInfo {
  /** mesh 'open': computed on a public or named mesh (its peers are strangers who see the prompt). */
  served_by: { peer: string; layers: [number, number]; mesh?: 'open' }[];
  /** Calls the model wrote whose arguments failed the tool's schema, so the reply stayed text. */
  rejected_tool_calls?: { name: string; error: string }[];
}

export interface OpenAiModel {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
  /** Our extra: the context length the mesh serves it with. */
  context_length?: number;
  /** Our extra: the peers that would compute it now and their layers (as served_by). */
  mesh?: MeshInfo['served_by'];
}

export interface OpenAiModelList {
  object: 'list';
  data: OpenAiModel[];
}

export interface OpenAiToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** One token's log-prob as chat completions report it (`choices[].logprobs.content[]`). */
export interface ChatTokenLogprob {
  token: string;
  logprob: number;
  /** The token's UTF-8 bytes (a token may hold part of a character). */
  bytes: number[];
  top_logprobs: { token: string; logprob: number; bytes: number[] }[];
}

export interface ChatLogprobs {
  content: ChatTokenLogprob[] | null;
  refusal: null;
}

/** The legacy completions' log-probs: parallel arrays, null for the echoed prompt's first token. */
export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: (number | null)[];
  /** Per token: the most likely alternatives and the token itself, by their text. */
  top_logprobs: (Record<string, number> | null)[];
  /** Character offset of each token in the choice's text. */
  text_offset: number[];
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: {
    index: number;
    message: { role: 'assistant'; content: string | null; refusal: null; tool_calls?: OpenAiToolCall[] };
    logprobs: ChatLogprobs | null;
    finish_reason: OpenAiFinishReason;
  }[];
  usage: OpenAiUsage;
  system_fingerprint: string | null;
  mesh?: MeshInfo;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: {
    index: number;
    delta: { role?: 'assistant'; content?: string; tool_calls?: (OpenAiToolCall & { index: number })[] };
    logprobs: ChatLogprobs | null;
    finish_reason: OpenAiFinishReason | null;
  }[];
  system_fingerprint: string | null;
  usage?: OpenAiUsage | null;
  mesh?: MeshInfo;
}

export interface TextCompletion {
  id: string;
  object: 'text_completion';
  created: number;
  model: string;
  choices: { index: number; text: string; logprobs: CompletionLogprobs | null; finish_reason: OpenAiFinishReason | null }[];
  usage?: OpenAiUsage | null;
  system_fingerprint: string | null;
  mesh?: MeshInfo;
}

// ---- normalised requests ----

export interface OpenAiChatRequest extends ChatGeneration {
  includeUsage: boolean;
}

export interface OpenAiCompletionRequest extends GenerationSpec {
  /** Text to tokenize, or token ids as given. */
  prompt: string | number[];
  includeUsage: boolean;
  /** Return the prompt before the completion (with its teacher-forced log-probs when logprobs is set). */
  echo: boolean;
  /** 0 only with echo: score the prompt, generate nothing. */
  maxTokens: number;
}

const MAX_STOP = 16;
/** OpenAI allows 20 alternatives in chat and 5 in completions; we allow 20 in both. */
const MAX_TOP_LOGPROBS = 20;
const ROLES = ['system', 'developer', 'user', 'assistant', 'tool'] as const;
const TOOL_NAME = /^[a-zA-Z0-9_.-]{1,64}$/;

// ---- shared fields ----

function readCommon(body: JsonObject, limits: ValidationLimits, maxTokensKeys: string[], minTokens = 1): GenerationSpec & { includeUsage: boolean } {
  const model = requireString(body, 'model', '', { nonEmpty: true });
  const n = optionalNumber(body, 'n', { min: 1, integer: true });
  if (n !== undefined && n !== 1) throw invalid('n', `n must be 1: the mesh returns one choice per request (send ${n} requests instead)`);
  const stream = optionalBoolean(body, 'stream') ?? false;
  let includeUsage = false;
  if (body.stream_options !== undefined && body.stream_options !== null) {
    if (!stream) throw invalid('stream_options', 'stream_options is only allowed when stream is true');
    const so = expectObject(body.stream_options, 'stream_options');
    includeUsage = optionalBoolean(so, 'include_usage', 'stream_options') ?? false;
  }
  let maxTokens: number | undefined;
  for (const key of maxTokensKeys) {
    const v = optionalNumber(body, key, { min: minTokens, max: limits.maxOutputTokens, integer: true });
    if (v !== undefined) maxTokens = v;
  }
  const sampling = readSampling(body, { maxTemperature: 2 });
  sampling.presencePenalty = optionalNumber(body, 'presence_penalty', { min: -2, max: 2 }) ?? 0;
  sampling.frequencyPenalty = optionalNumber(body, 'frequency_penalty', { min: -2, max: 2 }) ?? 0;
  const seed = optionalNumber(body, 'seed', { integer: true, min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER });
  if (seed !== undefined) sampling.seed = seed;
  if (isObject(body.logit_bias) && Object.keys(body.logit_bias).length > 0) {
    throw invalid('logit_bias', 'logit_bias is not supported by the mesh yet; remove it');
  }
  return { model, maxTokens, sampling, stop: stopList(body.stop, 'stop', MAX_STOP), stream, includeUsage };
}

// ---- chat messages ----

function textOf(content: unknown, p: string, role: string): string {
  if (typeof content === 'string') return content;
  const parts = expectArray(content, p);
  return parts
    .map((part, i) => {
      const pp = path(p, i);
      const o = expectObject(part, pp);
      const type = requireString(o, 'type', pp);
      if (type === 'text' || (type === 'refusal' && role === 'assistant')) return requireString(o, type === 'text' ? 'text' : 'refusal', pp);
      if (type === 'image_url' || type === 'input_audio' || type === 'file') {
        throw invalid(path(pp, 'type'), `${pp} is a ${type} part, but the mesh serves text-only models; send text parts only`);
      }
      throw invalid(path(pp, 'type'), `${path(pp, 'type')} must be "text", got "${type}"`);
    })
    .join('');
}

function readToolCalls(v: unknown, p: string): ToolCall[] {
  return expectArray(v, p).map((item, i) => {
    const ip = path(p, i);
    const o = expectObject(item, ip);
    const type = optionalString(o, 'type', ip) ?? 'function';
    if (type !== 'function') throw invalid(path(ip, 'type'), `${path(ip, 'type')} must be "function"`);
    const fn = expectObject(requireField(o, 'function', ip), path(ip, 'function'));
    const name = requireString(fn, 'name', path(ip, 'function'), { nonEmpty: true });
    const rawArgs = fn.arguments ?? '{}';
    const ap = path(path(ip, 'function'), 'arguments');
    let args: unknown = rawArgs;
    if (typeof rawArgs === 'string') {
      try {
        args = JSON.parse(rawArgs === '' ? '{}' : rawArgs);
      } catch {
        throw invalid(ap, `${ap} must be a JSON object encoded as a string`);
      }
    }
    if (!isObject(args)) throw invalid(ap, `${ap} must encode a JSON object, got ${describe(args)}`);
    return { id: optionalString(o, 'id', ip) ?? `call_${i}`, name, arguments: args };
  });
}

function readMessage(v: unknown, i: number): ChatTurn {
  const p = path('messages', i);
  const m = expectObject(v, p);
  const role = requireString(m, 'role', p);
  if (!(ROLES as readonly string[]).includes(role)) {
    throw invalid(path(p, 'role'), `${path(p, 'role')} must be one of ${ROLES.join(', ')}; got "${role}"`);
  }
  const cp = path(p, 'content');
  const name = optionalString(m, 'name', p);
  if (role === 'assistant') {
    const toolCalls = m.tool_calls === undefined || m.tool_calls === null ? undefined : readToolCalls(m.tool_calls, path(p, 'tool_calls'));
    const hasContent = m.content !== undefined && m.content !== null;
    if (!hasContent && !toolCalls?.length) throw invalid(cp, `${cp} is required (or tool_calls) for an assistant message`);
    const turn: ChatTurn = { role: 'assistant', content: hasContent ? textOf(m.content, cp, role) : '' };
    if (toolCalls?.length) turn.toolCalls = toolCalls;
    if (name !== undefined) turn.name = name;
    return turn;
  }
  if (m.content === undefined || m.content === null) throw invalid(cp, `${cp} is required for a ${role} message`);
  const content = textOf(m.content, cp, role);
  if (role === 'tool') {
    return { role: 'tool', content, toolCallId: requireString(m, 'tool_call_id', p, { nonEmpty: true }) };
  }
  const turn: ChatTurn = { role: role === 'developer' ? 'system' : (role as 'system' | 'user'), content };
  if (name !== undefined) turn.name = name;
  return turn;
}

function readTools(body: JsonObject): ToolSpec[] {
  if (body.tools === undefined || body.tools === null) return [];
  return expectArray(body.tools, 'tools').map((t, i) => {
    const p = path('tools', i);
    const o = expectObject(t, p);
    if (o.type !== 'function') throw invalid(path(p, 'type'), `${path(p, 'type')} must be "function"`);
    const fp = path(p, 'function');
    const fn = expectObject(requireField(o, 'function', p), fp);
    const name = requireString(fn, 'name', fp);
    if (!TOOL_NAME.test(name)) throw invalid(path(fp, 'name'), `${path(fp, 'name')} must be 1-64 letters, digits, _ . or -; got "${name}"`);
    const parameters = fn.parameters === undefined ? { type: 'object', properties: {} } : expectObject(fn.parameters, path(fp, 'parameters'));
    const spec: ToolSpec = { name, parameters };
    const description = optionalString(fn, 'description', fp);
    if (description !== undefined) spec.description = description;
    return spec;
  });
}

function readToolChoice(body: JsonObject, tools: ToolSpec[]): ToolChoice {
  const v = body.tool_choice;
  if (v === undefined || v === null) return tools.length ? 'auto' : 'none';
  if (v === 'auto' || v === 'none' || v === 'required') {
    if (v !== 'none' && tools.length === 0) throw invalid('tool_choice', `tool_choice "${v}" needs a non-empty tools list`);
    return v;
  }
  const o = expectObject(v, 'tool_choice');
  const fn = expectObject(requireField(o, 'function', 'tool_choice'), 'tool_choice.function');
  const name = requireString(fn, 'name', 'tool_choice.function');
  if (!tools.some((t) => t.name === name)) throw invalid('tool_choice.function.name', `tool_choice names "${name}", which is not in tools`);
  return { name };
}

// ---- validators ----

export function validateChatCompletion(body: unknown, limits: ValidationLimits = DEFAULT_LIMITS): Validated<OpenAiChatRequest> {
  return validated(() => {
    const b = expectObject(body, '');
    const common = readCommon(b, limits, ['max_tokens', 'max_completion_tokens']);
    const raw = expectArray(requireField(b, 'messages'), 'messages');
    if (raw.length === 0) throw invalid('messages', 'messages must hold at least one message');
    const messages = raw.map(readMessage);
    const format = b.response_format;
    if (format !== undefined && format !== null) {
      const type = expectObject(format, 'response_format').type;
      if (type !== 'text') throw invalid('response_format.type', `response_format "${String(type)}" is not supported by the mesh yet; use "text"`);
    }
    const tools = readTools(b);
    const logprobs = readChatLogprobs(b);
    return { ...common, messages, tools, toolChoice: readToolChoice(b, tools), ...(logprobs === undefined ? {} : { logprobs }) };
  });
}

/** The legacy completions endpoint: one prompt (text or token ids); max_tokens defaults to 16 as OpenAI's does. */
export function validateCompletion(body: unknown, limits: ValidationLimits = DEFAULT_LIMITS): Validated<OpenAiCompletionRequest> {
  return validated(() => {
    const b = expectObject(body, '');
    const common = readCommon(b, limits, ['max_tokens'], 0);
    const prompt = readPrompt(requireField(b, 'prompt'));
    const echo = optionalBoolean(b, 'echo') ?? false;
    if (common.maxTokens === 0 && !echo) throw invalid('max_tokens', 'max_tokens must be at least 1 (0 is only allowed with echo: true, to score the prompt)');
    const logprobs = readCompletionLogprobs(b);
    if (b.suffix !== undefined && b.suffix !== null) throw invalid('suffix', 'suffix (fill-in-the-middle) is not supported by the mesh; remove it');
    const bestOf = optionalNumber(b, 'best_of', { min: 1, integer: true });
    if (bestOf !== undefined && bestOf !== 1) throw invalid('best_of', 'best_of must be 1');
    return { ...common, maxTokens: common.maxTokens ?? 16, prompt, echo, ...(logprobs === undefined ? {} : { logprobs }) };
  });
}

/** Chat: `logprobs: true` turns them on; `top_logprobs` (0..20, default 0) needs it. */
function readChatLogprobs(b: JsonObject): number | undefined {
  const on = optionalBoolean(b, 'logprobs') ?? false;
  const top = optionalNumber(b, 'top_logprobs', { min: 0, max: MAX_TOP_LOGPROBS, integer: true });
  if (top !== undefined && !on) throw invalid('top_logprobs', 'top_logprobs needs logprobs: true');
  return on ? (top ?? 0) : undefined;
}

/** Completions: `logprobs: N` (0..20) alternatives per token; null or absent: off. */
function readCompletionLogprobs(b: JsonObject): number | undefined {
  if (b.logprobs === false) return undefined;
  if (b.logprobs === true) throw invalid('logprobs', 'logprobs of /v1/completions is a number of alternatives per token (0..20), not a boolean');
  return optionalNumber(b, 'logprobs', { min: 0, max: MAX_TOP_LOGPROBS, integer: true });
}

function readPrompt(v: unknown): string | number[] {
  if (typeof v === 'string') return v;
  const list = expectArray(v, 'prompt');
  if (list.length === 0) throw invalid('prompt', 'prompt must not be an empty array');
  if (list.every((x) => typeof x === 'number')) return tokenIds(list, 'prompt');
  if (list.length > 1) throw invalid('prompt', `prompt holds ${list.length} prompts; the mesh answers one per request, so send them separately`);
  const only = list[0];
  if (typeof only === 'string') return only;
  if (Array.isArray(only)) return tokenIds(only, 'prompt[0]');
  throw invalid('prompt[0]', `prompt[0] must be a string or an array of token ids, got ${describe(only)}`);
}

function tokenIds(list: unknown[], p: string): number[] {
  if (list.length === 0) throw invalid(p, `${p} must not be empty`);
  return list.map((x, i) => {
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 0)
      throw invalid(path(p, i), `${path(p, i)} must be a token id (a whole number >= 0), got ${describe(x)}`);
    return x;
  });
}

/** OpenAI's tool call wire form, for responses. */
export function openAiToolCall(call: ToolCall): OpenAiToolCall {
  return { id: call.id, type: 'function', function: { name: call.name, arguments: JSON.stringify(call.arguments) } };
}
