// Our own Engine as a TextEngine: text prompts go through its tokenizer (the model's BOS rule),
// chat prompts through the model's chat template first; events keep the token ids.
import { chatTemplateFor, type ChatTemplate } from '../../src/tokenizer/index.ts';
import type { Engine } from '../../src/engine/engine.ts';
import type { TextEngine, TextEvent, TextGenerateRequest, TextPrompt } from './text-engine.ts';

export class MeshTextEngine implements TextEngine {
  readonly id: string;
  readonly kind = 'mesh' as const;
  readonly engine: Engine;
  private template: ChatTemplate | undefined;

  constructor(engine: Engine, options: { id: string }) {
    this.engine = engine;
    this.id = options.id;
  }

  get contextLength(): number {
    return this.engine.maxPositions;
  }

  /** The prompt as the engine sees it: token ids with BOS (and the chat template for messages). */
  promptTokens(prompt: TextPrompt): number[] {
    if ('text' in prompt) return this.engine.tokenize(prompt.text);
    this.template ??= chatTemplateFor(this.engine.model.header.metadata, this.engine.tokenizer);
    return this.engine.tokenize(this.template.render(prompt.messages));
  }

  async *generate(request: TextGenerateRequest): AsyncGenerator<TextEvent, void, undefined> {
    const promptTokens = this.promptTokens(request.prompt);
    for await (const e of this.engine.generate({ ...request, promptTokens })) {
      if (e.type === 'token') yield { type: 'token', token: e.token, text: e.text };
      else yield { type: 'done', finishReason: e.finishReason, usage: e.usage, text: e.text };
    }
  }

  close(): Promise<void> {
    return this.engine.close();
  }
}
