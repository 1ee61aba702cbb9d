// Conversations and raw prompts -> prompt token ids, through the model's own chat template (as
// Hugging Face templates expect messages, tools and tool calls) and tokenizer.
import { ApiError } from '../protocol/api-error.ts';
import type { ChatTurn, ToolChoice, ToolSpec } from '../protocol/generation.ts';
import { TokenizerError } from '../tokenizer/index.ts';
import type { ModelText } from '../provider/provider.ts';

interface TemplateMessage {
  role: string;
  content: string;
  tool_calls?: { id: string; type: 'function'; function: { name: string; arguments: Record<string, unknown> } }[];
  tool_call_id?: string;
  name?: string;
}

function templateMessage(turn: ChatTurn): TemplateMessage {
  const m: TemplateMessage = { role: turn.role, content: turn.content };
  if (turn.toolCalls) m.tool_calls = turn.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } }));
  if (turn.toolCallId !== undefined) m.tool_call_id = turn.toolCallId;
  if (turn.name !== undefined) m.name = turn.name;
  return m;
}

/** The prompt text for a conversation, ending with the opening of the assistant's turn. */
export function renderChat(text: ModelText, messages: readonly ChatTurn[], tools: readonly ToolSpec[] = [], toolChoice: ToolChoice = 'none'): string {
  const extra: Record<string, unknown> = {};
  if (tools.length && toolChoice !== 'none') {
    extra.tools = tools.map((t) => ({ type: 'function', function: { name: t.name, description: t.description ?? '', parameters: t.parameters } }));
  }
  try {
    return text.template.render(messages.map(templateMessage), { addGenerationPrompt: true, extra });
  } catch (e) {
    if (e instanceof TokenizerError)
      throw new ApiError('invalid_request', `${e.message}; check the order of roles (many models need user and assistant turns to alternate)`, {
        param: 'messages',
        code: 'chat_template_error',
        cause: e,
      });
    throw e;
  }
}

/** Tokens of a rendered chat prompt: special tokens written by the template are parsed as such. */
export function chatPromptTokens(text: ModelText, messages: readonly ChatTurn[], tools: readonly ToolSpec[] = [], toolChoice: ToolChoice = 'none'): number[] {
  return text.tokenizer.tokenize(renderChat(text, messages, tools, toolChoice), { addSpecial: true, parseSpecial: true });
}

/** A raw completion prompt: text is tokenized as llama.cpp's server does (BOS added, specials parsed). */
export function completionPromptTokens(text: ModelText, prompt: string | number[]): number[] {
  if (typeof prompt === 'string') return text.tokenizer.tokenize(prompt, { addSpecial: true, parseSpecial: true });
  const size = text.tokenizer.size;
  prompt.forEach((id, i) => {
    if (id >= size)
      throw new ApiError('invalid_request', `prompt[${i}] is token ${id}, outside this model's vocabulary (0..${size - 1})`, { param: `prompt[${i}]` });
  });
  return prompt;
}
