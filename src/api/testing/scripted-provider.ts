// A deterministic ModelProvider for tests: the REAL tokenizer and chat template of a generated test
// model, and a "generation" that replays a scripted token sequence, so usage counts, stop sequences
// and streaming can be checked exactly without running a network.
import { readGgufHeader } from '../../gguf/reader.ts';
import { fileSource } from '../../engine/file-source.ts';
import { chatTemplateFor, Tokenizer } from '../../tokenizer/index.ts';
import type { GenerateRequest, Generation, ModelDescriptor, ModelProvider, ModelText, ServedBy } from '../../provider/provider.ts';

export const TEST_MODEL = 'tiny-llama-f32';

export async function loadModelText(path: string): Promise<ModelText> {
  const source = await fileSource(path);
  try {
    const { metadata } = await readGgufHeader(source);
    const tokenizer = Tokenizer.fromMetadata(metadata);
    return { tokenizer, template: chatTemplateFor(metadata, tokenizer) };
  } finally {
    await source.close();
  }
}

export interface ScriptedOptions {
  text: ModelText;
  contextLength?: number;
  /** The tokens to "generate" for a prompt; default: the tokens of `reply`, then EOS. */
  script?: (promptTokens: number[]) => number[];
  reply?: string;
  /** Delay before each token, in ms (lets tests abort mid-stream). */
  delayMs?: number;
  servedBy?: ServedBy[];
  /** Report log-probs: each scripted token gets a made-up log-prob of -(its step + 1) / 10, and itself as the top alternative. */
  logprobs?: boolean;
}

export interface GenerateLog {
  request: GenerateRequest;
  /** Tokens handed out. */
  yielded: number;
  /** Set when the provider saw its signal aborted or return() called. */
  stoppedEarly: boolean;
  finished: Promise<void>;
}

export class ScriptedProvider implements ModelProvider {
  readonly text: ModelText;
  readonly calls: GenerateLog[] = [];
  private readonly options: ScriptedOptions;

  constructor(options: ScriptedOptions) {
    this.options = options;
    this.text = options.text;
  }

  /** What the default script generates: the reply's tokens then EOS. */
  replyTokens(reply = this.options.reply ?? 'Hello there, friend.'): number[] {
    return [...this.text.tokenizer.tokenize(reply, { addSpecial: false }), this.text.tokenizer.special.eos];
  }

  listModels(): ModelDescriptor[] {
    return [{ id: TEST_MODEL, ownedBy: 'test-mesh', contextLength: this.options.contextLength ?? 512, created: 1_700_000_000 }];
  }

  async modelText(): Promise<ModelText> {
    return this.text;
  }

  supportsLogprobs(): boolean {
    return this.options.logprobs ?? false;
  }

  async generate(request: GenerateRequest): Promise<Generation> {
    const tokens = this.options.script?.(request.promptTokens) ?? this.replyTokens();
    let finish!: () => void;
    const log: GenerateLog = {
      request,
      yielded: 0,
      stoppedEarly: false,
      finished: new Promise((r) => {
        finish = r;
      }),
    };
    this.calls.push(log);
    const delay = this.options.delayMs ?? 0;
    async function* run(): AsyncGenerator<number> {
      try {
        for (const t of tokens.slice(0, request.maxTokens)) {
          if (delay) await new Promise((r) => setTimeout(r, delay));
          if (request.signal.aborted) {
            log.stoppedEarly = true;
            return;
          }
          const logprob = -(log.yielded + 1) / 10;
          request.logprobs?.onToken({ token: t, logprob, top: [{ id: t, logprob }].slice(0, request.logprobs.top) });
          log.yielded++;
          yield t;
        }
      } finally {
        if (log.yielded < Math.min(tokens.length, request.maxTokens)) log.stoppedEarly = true;
        finish();
      }
    }
    return {
      servedBy: this.options.servedBy ?? [
        { peer: 'peer-a', layers: [0, 1] },
        { peer: 'peer-b', layers: [1, 2] },
      ],
      tokens: run(),
    };
  }
}
