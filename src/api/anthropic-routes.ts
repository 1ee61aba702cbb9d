// Anthropic's routes: POST /v1/messages (with its event stream: message_start, content_block_*,
// ping, message_delta, message_stop), POST /v1/messages/count_tokens, and /v1/models in
// Anthropic's shape for clients that send anthropic-version.
import { anthropicErrorBody } from '../protocol/api-error.ts';
import {
  validateCountTokens,
  validateMessages,
  type AnthropicContentBlock,
  type AnthropicCountTokens,
  type AnthropicMessage,
  type AnthropicModel,
  type AnthropicModelList,
  type AnthropicStopReason,
  type AnthropicStreamEvent,
} from '../protocol/anthropic.ts';
import type { ToolCall } from '../protocol/generation.ts';
import type { ApiContext, RequestInfo } from './context.ts';
import { beginChat } from './chat-start.ts';
import type { Outcome } from './generation-run.ts';
import { chatPromptTokens } from './prompt.ts';
import type { ParsedReply } from './tool-calls.ts';
import type { ModelDescriptor } from '../provider/provider.ts';
import { collectReleased, findModel, jsonResponse, meshInfo, modelMesh, newId, servedByHeader, streamResponse, validationLimits } from './serve.ts';
import { sseEvent } from './sse.ts';

function modelObject(m: ModelDescriptor): AnthropicModel {
  return { type: 'model', id: m.id, display_name: m.id, created_at: new Date((m.created ?? 0) * 1000).toISOString(), ...modelMesh(m) };
}

export async function listModelsAnthropic(ctx: ApiContext): Promise<Response> {
  const data = (await ctx.provider.listModels()).map(modelObject);
  const list: AnthropicModelList = { data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
  return jsonResponse(list);
}

export async function retrieveModelAnthropic(ctx: ApiContext, id: string): Promise<Response> {
  return jsonResponse(modelObject(await findModel(ctx, id)));
}

function stopReason(o: Outcome, toolCalls: boolean): AnthropicStopReason {
  if (toolCalls) return 'tool_use';
  if (o.finish === 'stop_sequence') return 'stop_sequence';
  return o.finish === 'length' ? 'max_tokens' : 'end_turn';
}

function blocks(content: string, calls: ToolCall[]): AnthropicContentBlock[] {
  const out: AnthropicContentBlock[] = [];
  if (content || calls.length === 0) out.push({ type: 'text', text: content });
  for (const c of calls) out.push({ type: 'tool_use', id: c.id, name: c.name, input: c.arguments });
  return out;
}

const send = (e: AnthropicStreamEvent) => sseEvent(e.type, e);

export async function messages(request: Request, ctx: ApiContext, info: RequestInfo, body: unknown): Promise<Response> {
  const v = validateMessages(body, await validationLimits(ctx));
  if (!v.ok) throw v.error;
  const req = v.value;
  const started = await beginChat(ctx, request, info, req, 'toolu_');
  const { p, run, toolsOn, reply } = started;
  const id = newId('msg_');
  const headers = { ...servedByHeader(run.servedBy), 'request-id': id };
  const message = (content: AnthropicContentBlock[], outcome: Outcome | null, reply?: ParsedReply): AnthropicMessage => ({
    id,
    type: 'message',
    role: 'assistant',
    model: req.model,
    content,
    stop_reason: outcome ? stopReason(outcome, (reply?.toolCalls.length ?? 0) > 0) : null,
    stop_sequence: outcome?.stopSequence ?? null,
    usage: {
      input_tokens: p.promptTokens.length,
      output_tokens: outcome?.completionTokens ?? 0,
      ...(outcome?.speculative ? { speculative: outcome.speculative } : {}),
    },
    mesh: meshInfo(run.servedBy, reply?.rejected),
  });

  if (!req.stream) {
    const result = await collectReleased(started);
    const parsed = reply(result.text);
    return jsonResponse(message(blocks(parsed.content, parsed.toolCalls), result.outcome, parsed), 200, headers);
  }

  async function* frames(): AsyncGenerator<string, void, void> {
    yield send({ type: 'message_start', message: message([], null) });
    if (!toolsOn) yield send({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    yield send({ type: 'ping' });
    let held = '';
    let outcome: Outcome;
    for (;;) {
      const r = await run.deltas.next();
      if (r.done) {
        outcome = r.value;
        break;
      }
      // with tools offered, the reply may turn out to be a call: hold it to send the right blocks
      if (toolsOn) held += r.value;
      else yield send({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: r.value } });
    }
    let hasCalls = false;
    let rejected: ParsedReply['rejected'];
    if (toolsOn) {
      const { content, toolCalls, ...parsed } = reply(held);
      hasCalls = toolCalls.length > 0;
      rejected = parsed.rejected;
      let index = 0;
      for (const block of blocks(content, toolCalls)) {
        if (block.type === 'text') {
          yield send({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
          if (block.text) yield send({ type: 'content_block_delta', index, delta: { type: 'text_delta', text: block.text } });
        } else {
          yield send({ type: 'content_block_start', index, content_block: { ...block, input: {} } });
          yield send({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: JSON.stringify(block.input) } });
        }
        yield send({ type: 'content_block_stop', index });
        index++;
      }
    } else {
      yield send({ type: 'content_block_stop', index: 0 });
    }
    yield send({
      type: 'message_delta',
      delta: { stop_reason: stopReason(outcome, hasCalls), stop_sequence: outcome.stopSequence },
      usage: { output_tokens: outcome.completionTokens, ...(outcome.speculative ? { speculative: outcome.speculative } : {}) },
      ...(rejected ? { mesh: meshInfo(run.servedBy, rejected) } : {}),
    });
    yield send({ type: 'message_stop' });
  }
  return streamResponse(started, headers, frames, (e) => sseEvent('error', anthropicErrorBody(e)));
}

export async function countTokens(ctx: ApiContext, body: unknown): Promise<Response> {
  const v = validateCountTokens(body);
  if (!v.ok) throw v.error;
  const req = v.value;
  await findModel(ctx, req.model);
  const text = await ctx.provider.modelText(req.model);
  const count: AnthropicCountTokens = { input_tokens: chatPromptTokens(text, req.messages, req.tools, req.toolChoice).length };
  return jsonResponse(count);
}
