// The tokenizer module's public surface: load from GGUF metadata, encode/decode, chat templates.
export { Tokenizer, type TokenizeOptions, type DetokenizeOptions } from './tokenizer.ts';
export { TokenizerError, type TokenizerErrorCode } from './errors.ts';
export {
  ChatTemplate,
  chatTemplateFor,
  chatTemplateFamily,
  CHATML_TEMPLATE,
  type ChatMessage,
  type RenderOptions,
  type ChatTemplateFamily,
} from './chat-template.ts';
export { SUPPORTED_MODELS, SUPPORTED_PRE, type SpecialIds, type VocabType } from './vocab.ts';
export { TokenTextStream } from './text-stream.ts';
