// Turns a conversation into the prompt text a model was trained on, by rendering the model's own
// Jinja chat template (tokenizer.chat_template) with Hugging Face's Jinja engine, and applying the
// same fix-ups llama.cpp's common_chat does around it: ChatML when the model has no template, a
// system message folded into the first turn when the template has no system role, developer ->
// system, and no doubled BOS/EOS when the tokenizer adds them itself.
import { Template } from '@huggingface/jinja';
import type { GgufValue } from '../gguf/reader.ts';
import { TokenizerError } from './errors.ts';
import type { Tokenizer } from './tokenizer.ts';

export interface ChatMessage {
  role: 'system' | 'developer' | 'user' | 'assistant' | 'tool' | (string & {});
  content: string;
}

export interface RenderOptions {
  /** End with the header that opens the assistant's turn. Default true. */
  addGenerationPrompt?: boolean;
  /** Extra template variables (e.g. tools, enable_thinking), as llama.cpp's chat_template_kwargs. */
  extra?: Record<string, unknown>;
}

/** llama.cpp's fallback (CHATML_TEMPLATE_SRC) for models without a chat template. */
export const CHATML_TEMPLATE = `{%- for message in messages -%}
  {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}
  {{- '<|im_start|>assistant\n' -}}
{%- endif -%}`;

/** Which of the common families a template belongs to, for logs and UI; rendering never depends on it. */
export type ChatTemplateFamily = 'llama3' | 'chatml' | 'mistral' | 'phi3' | 'gemma' | 'unknown';

export function chatTemplateFamily(source: string): ChatTemplateFamily {
  if (source.includes('<|start_header_id|>')) return 'llama3';
  if (source.includes('<|im_start|>')) return 'chatml';
  if (source.includes('<start_of_turn>')) return 'gemma';
  if (source.includes('<|assistant|>') && source.includes('<|end|>')) return 'phi3';
  if (source.includes('[INST]')) return 'mistral';
  return 'unknown';
}

export interface ChatTemplateOptions {
  /** Text of the BOS/EOS tokens, as the template's bos_token / eos_token. */
  bosToken?: string;
  eosToken?: string;
  /** Whether tokenization will add BOS/EOS: then a rendered leading BOS / trailing EOS text is dropped. */
  addBos?: boolean;
  addEos?: boolean;
}

export class ChatTemplate {
  readonly source: string;
  readonly family: ChatTemplateFamily;
  /** False when the template ignores or rejects system messages (they are then merged into the next turn). */
  readonly supportsSystemRole: boolean;
  private readonly template: Template;
  private readonly options: Required<ChatTemplateOptions>;

  constructor(source: string, options: ChatTemplateOptions = {}) {
    this.source = source;
    this.family = chatTemplateFamily(source);
    this.options = { bosToken: '', eosToken: '', addBos: false, addEos: false, ...options };
    try {
      this.template = new Template(source);
    } catch (e) {
      throw new TokenizerError('tokenizer_bad_metadata', `the model's chat template cannot be parsed (${(e as Error).message}); pass a template of your own`, {
        cause: e,
      });
    }
    this.supportsSystemRole = this.probeSystemRole();
  }

  /** The prompt text for a conversation, ready for tokenize(text, { parseSpecial: true }). */
  render(messages: readonly ChatMessage[], options: RenderOptions = {}): string {
    let msgs = messages.map((m) => ({ ...m, role: m.role === 'developer' ? 'system' : m.role }));
    if (!this.supportsSystemRole && msgs.length && msgs[0].role === 'system') {
      const [system, ...rest] = msgs;
      msgs = rest.length ? [{ ...rest[0], content: `${system.content}\n${rest[0].content}` }, ...rest.slice(1)] : [];
    }
    let text: string;
    try {
      text = this.template.render({
        ...options.extra,
        messages: msgs,
        add_generation_prompt: options.addGenerationPrompt ?? true,
        bos_token: this.options.bosToken,
        eos_token: this.options.eosToken,
      });
    } catch (e) {
      throw new TokenizerError('tokenizer_bad_input', `the model's chat template rejected this conversation: ${(e as Error).message}`, { cause: e });
    }
    const { bosToken, eosToken, addBos, addEos } = this.options;
    if (addBos && bosToken && text.startsWith(bosToken)) text = text.slice(bosToken.length);
    if (addEos && eosToken && text.endsWith(eosToken)) text = text.slice(0, -eosToken.length);
    return text;
  }

  /** As llama.cpp's capability probe: does a system message's content reach the output? */
  private probeSystemRole(): boolean {
    const needle = 'System message 9f3c';
    try {
      const out = this.template.render({
        messages: [
          { role: 'system', content: needle },
          { role: 'user', content: 'User message' },
        ],
        add_generation_prompt: false,
        bos_token: this.options.bosToken,
        eos_token: this.options.eosToken,
      });
      return out.includes(needle);
    } catch {
      return false;
    }
  }
}

/** The model's chat template from its GGUF metadata (ChatML when it has none), wired to its tokenizer. */
export function chatTemplateFor(metadata: ReadonlyMap<string, GgufValue>, tokenizer: Tokenizer): ChatTemplate {
  const stored = metadata.get('tokenizer.chat_template');
  const source = typeof stored === 'string' && stored !== '' && stored !== 'chatml' ? stored : CHATML_TEMPLATE;
  const text = (id: number) => (id >= 0 ? new TextDecoder().decode(tokenizer.tokenToPiece(id, true)) : '');
  return new ChatTemplate(source, {
    bosToken: text(tokenizer.special.bos),
    eosToken: text(tokenizer.special.eos),
    addBos: tokenizer.addBos,
    addEos: tokenizer.addEos,
  });
}
