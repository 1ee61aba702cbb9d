// How the two chat routes (OpenAI chat completions, Anthropic messages) start a generation: the
// conversation rendered with the offered tools, the run begun under the model's queue, and how its
// text reads back: as tool calls when tools are on (unknown names and arguments that fail the tool's
// schema stay text), else as plain content.
import type { ChatGeneration } from '../protocol/generation.ts';
import type { ApiContext, RequestInfo } from './context.ts';
import { chatPromptTokens } from './prompt.ts';
import { begin, newId, prepare, type Prepared, type Started } from './serve.ts';
import { parseToolCalls, type ParsedReply } from './tool-calls.ts';
import { toolArgumentsCheck } from './tool-schema.ts';

export interface ChatStarted extends Started {
  readonly p: Prepared;
  /** Tools were offered and not switched off with tool choice "none". */
  readonly toolsOn: boolean;
  /** The finished text as the reply's content and tool calls (ids from `toolIdPrefix`). */
  reply(text: string): ParsedReply;
}

export async function beginChat(ctx: ApiContext, request: Request, info: RequestInfo, req: ChatGeneration, toolIdPrefix: string): Promise<ChatStarted> {
  const toolsOn = req.tools.length > 0 && req.toolChoice !== 'none';
  const known = new Set(req.tools.map((t) => t.name));
  const check = toolArgumentsCheck(req.tools);
  const chars = req.messages.reduce((n, m) => n + m.content.length, 0);
  const p = await prepare(ctx, req.model, (t) => chatPromptTokens(t, req.messages, req.tools, req.toolChoice), req.maxTokens, chars);
  const { run, release } = await begin(ctx, request, info, p, req);
  const reply = (text: string): ParsedReply => (toolsOn ? parseToolCalls(text, known, () => newId(toolIdPrefix), check) : { content: text, toolCalls: [] });
  return { p, run, release, toolsOn, reply };
}
