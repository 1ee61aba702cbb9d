// OpenAI's routes: GET /v1/models and POST /v1/chat/completions (the legacy /v1/completions is in
// completions-route.ts), streaming as the OpenAI SDK reads it (role delta first, content deltas, a
// finish chunk, an optional usage chunk, then [DONE]); an error after the stream began goes out as a
// `data: {"error":…}` chunk. With `logprobs`, each content chunk carries its tokens' log-probs.
import { openAiErrorBody, type ApiError } from '../protocol/api-error.ts';
import {
  openAiToolCall,
  validateChatCompletion,
  type ChatCompletion,
  type ChatCompletionChunk,
  type ChatLogprobs,
  type OpenAiFinishReason,
  type OpenAiModel,
  type OpenAiModelList,
  type OpenAiUsage,
} from '../protocol/openai.ts';
import type { ApiContext, RequestInfo } from './context.ts';
import { beginChat } from './chat-start.ts';
import type { Outcome } from './generation-run.ts';
import { chatLogprobs } from './logprobs.ts';
import {
  collectReleased,
  findModel,
  jsonResponse,
  meshInfo,
  modelMesh,
  newId,
  nowSeconds,
  servedByHeader,
  streamResponse,
  validationLimits,
  type Prepared,
} from './serve.ts';
import { sseData } from './sse.ts';
import type { ModelDescriptor } from '../provider/provider.ts';

function modelObject(m: ModelDescriptor): OpenAiModel {
  return { id: m.id, object: 'model', created: m.created ?? 0, owned_by: m.ownedBy, context_length: m.contextLength, ...modelMesh(m) };
}

export async function listModels(ctx: ApiContext): Promise<Response> {
  const list: OpenAiModelList = { object: 'list', data: (await ctx.provider.listModels()).map(modelObject) };
  return jsonResponse(list);
}

export async function retrieveModel(ctx: ApiContext, id: string): Promise<Response> {
  return jsonResponse(modelObject(await findModel(ctx, id)));
}

export function finishReason(o: Outcome, toolCalls: boolean): OpenAiFinishReason {
  if (toolCalls) return 'tool_calls';
  return o.finish === 'length' ? 'length' : 'stop';
}

/** An error after the stream began: a `data: {"error":…}` chunk, as the OpenAI SDK reads it. */
export const openAiErrorFrame = (e: ApiError) => sseData(openAiErrorBody(e));

export function usage(p: Prepared, o: Outcome, cached: number): OpenAiUsage {
  const u: OpenAiUsage = {
    prompt_tokens: p.promptTokens.length,
    completion_tokens: o.completionTokens,
    total_tokens: p.promptTokens.length + o.completionTokens,
  };
  if (cached > 0) u.prompt_tokens_details = { cached_tokens: cached };
  if (o.speculative) u.speculative = o.speculative;
  return u;
}

export async function chatCompletions(request: Request, ctx: ApiContext, info: RequestInfo, body: unknown): Promise<Response> {
  const v = validateChatCompletion(body, await validationLimits(ctx));
  if (!v.ok) throw v.error;
  const req = v.value;
  const started = await beginChat(ctx, request, info, req, 'call_');
  const { p, run, toolsOn, reply } = started;
  const id = newId('chatcmpl-');
  const created = nowSeconds();
  const headers = servedByHeader(run.servedBy);
  // the log-probs of the tokens released since the last call (null when not asked for)
  const logprobs = (): ChatLogprobs | null =>
    req.logprobs === undefined ? null : { content: chatLogprobs(p.text.tokenizer, run.takeLogprobs()), refusal: null };

  if (!req.stream) {
    const result = await collectReleased(started);
    const { content, toolCalls, rejected } = reply(result.text);
    const message: ChatCompletion['choices'][number]['message'] = { role: 'assistant', content: toolCalls.length && !content ? null : content, refusal: null };
    if (toolCalls.length) message.tool_calls = toolCalls.map(openAiToolCall);
    const completion: ChatCompletion = {
      id,
      object: 'chat.completion',
      created,
      model: req.model,
      choices: [{ index: 0, message, logprobs: logprobs(), finish_reason: finishReason(result.outcome, toolCalls.length > 0) }],
      usage: usage(p, result.outcome, run.cachedPromptTokens),
      system_fingerprint: null,
      mesh: meshInfo(run.servedBy, rejected),
    };
    return jsonResponse(completion, 200, headers);
  }

  const chunk = (
    delta: ChatCompletionChunk['choices'][number]['delta'],
    finish: OpenAiFinishReason | null,
    lp: ChatLogprobs | null = null,
  ): ChatCompletionChunk => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model: req.model,
    system_fingerprint: null,
    choices: [{ index: 0, delta, logprobs: lp, finish_reason: finish }],
    ...(req.includeUsage ? { usage: null } : {}),
  });
  async function* frames(): AsyncGenerator<string, void, void> {
    yield sseData({ ...chunk({ role: 'assistant', content: '' }, null), mesh: meshInfo(run.servedBy) });
    let held = '';
    let outcome: Outcome;
    for (;;) {
      const r = await run.deltas.next();
      if (r.done) {
        outcome = r.value;
        break;
      }
      // with tools offered, the reply may turn out to be a call: hold it to send it in the right field
      if (toolsOn) held += r.value;
      else yield sseData(chunk({ content: r.value }, null, logprobs()));
    }
    const { content, toolCalls, rejected } = reply(held);
    // held text's log-probs go with the first chunk that carries it (content, else the tool calls)
    const heldLogprobs = logprobs();
    if (content) yield sseData(chunk({ content }, null, heldLogprobs));
    if (toolCalls.length)
      yield sseData(chunk({ tool_calls: toolCalls.map((c, index) => ({ index, ...openAiToolCall(c) })) }, null, content ? null : heldLogprobs));
    const finish = chunk({}, finishReason(outcome, toolCalls.length > 0));
    yield sseData(rejected ? { ...finish, mesh: meshInfo(run.servedBy, rejected) } : finish);
    if (req.includeUsage)
      yield sseData({
        id,
        object: 'chat.completion.chunk',
        created,
        model: req.model,
        system_fingerprint: null,
        choices: [],
        usage: usage(p, outcome, run.cachedPromptTokens),
      });
    yield 'data: [DONE]\n\n';
  }
  return streamResponse(started, headers, frames, openAiErrorFrame);
}
