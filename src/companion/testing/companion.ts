// Test helpers: a companion on free ports serving a real tiny model, a provider wrapper that records
// what each generation did, and the greedy answer of the engine itself to compare the API against.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureModel } from '../../../tools/models/registry.ts';
import { EngineProvider } from '../../provider/engine-provider.ts';
import type { GenerateRequest, Generation, ModelDescriptor, ModelProvider, ModelText } from '../../provider/provider.ts';
import { TokenTextStream } from '../../tokenizer/index.ts';
import { startCompanion, type Companion, type CompanionOptions } from '../companion.ts';
import { defaultConfig, type CompanionConfig } from '../config.ts';
import { loadServedModel, type ServedModel } from '../served-model.ts';

export const COMPANION_TEST_MODEL = 'tiny-llama-q8_0';

export interface GenerationLog {
  request: GenerateRequest;
  yielded: number;
  /** Resolves once the engine's generation has ended (finished, stopped or aborted). */
  finished: Promise<void>;
}

/** Passes everything to `inner` and logs each generation: how many tokens it handed out, and when it ended. */
export class RecordingProvider implements ModelProvider {
  readonly calls: GenerationLog[] = [];
  private readonly inner: ModelProvider;

  constructor(inner: ModelProvider) {
    this.inner = inner;
  }

  listModels(): ModelDescriptor[] | Promise<ModelDescriptor[]> {
    return this.inner.listModels();
  }

  modelText(model: string): Promise<ModelText> {
    return this.inner.modelText(model);
  }

  async generate(request: GenerateRequest): Promise<Generation> {
    const generation = await this.inner.generate(request);
    let done!: () => void;
    const log: GenerationLog = {
      request,
      yielded: 0,
      finished: new Promise((resolve) => {
        done = resolve;
      }),
    };
    this.calls.push(log);
    async function* tokens(): AsyncGenerator<number> {
      try {
        for await (const t of generation.tokens) {
          log.yielded++;
          yield t;
        }
      } finally {
        done();
      }
    }
    return { servedBy: generation.servedBy, tokens: tokens() };
  }
}

export interface TestCompanion {
  companion: Companion;
  served: ServedModel;
  provider: RecordingProvider;
  text: ModelText;
  stop(): Promise<void>;
}

/** A companion on free ports with the tiny test model, a throwaway app folder and no persisted key. */
export async function startTestCompanion(config: Partial<CompanionConfig> = {}, options: CompanionOptions = {}): Promise<TestCompanion> {
  const dir = mkdtempSync(join(tmpdir(), 'companion-api-'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>app</title>');
  const served = await loadServedModel(await ensureModel(COMPANION_TEST_MODEL), { id: COMPANION_TEST_MODEL, backend: 'cpu' });
  const provider = new RecordingProvider(new EngineProvider([served.model]));
  const companion = await startCompanion(
    { ...defaultConfig(dir), distDir: dir, appPort: 0, nostrPort: 0, apiPort: 0, libp2pPort: 0, quicPort: 0, webTransportPort: 0, ...config },
    { persistKey: false, models: [served], provider, ...options },
  );
  return {
    companion,
    served,
    provider,
    text: await provider.modelText(COMPANION_TEST_MODEL),
    async stop() {
      await companion.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Expected {
  promptTokens: number;
  /** Tokens the engine produced, an end-of-generation token included (as usage counts them). */
  completionTokens: number;
  text: string;
  /** True when generation ended at an end-of-generation token rather than at maxTokens. */
  eog: boolean;
}

/** What greedy decoding gives for a chat, computed with the engine and tokenizer directly (no API). */
export async function greedyChat(t: TestCompanion, messages: { role: string; content: string }[], maxTokens: number): Promise<Expected> {
  const { tokenizer, template } = t.text;
  const prompt = tokenizer.tokenize(template.render(messages, { addGenerationPrompt: true }), { addSpecial: true, parseSpecial: true });
  const tokens: number[] = [];
  for await (const e of t.served.model.engine.generate({ promptTokens: prompt, maxTokens, sampling: { temperature: 0 } })) {
    if (e.type === 'token') tokens.push(e.token);
  }
  const stream = new TokenTextStream(tokenizer);
  const eog = tokens.length > 0 && tokenizer.isEog(tokens.at(-1)!);
  const text =
    tokens
      .filter((id) => !tokenizer.isEog(id))
      .map((id) => stream.push(id))
      .join('') + stream.flush();
  return { promptTokens: prompt.length, completionTokens: tokens.length, text, eog };
}
