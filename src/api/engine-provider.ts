// A ModelProvider over local engines (src/engine): what the companion serves with no tab open, and
// what a worker engine can use in the browser. Each model is one Engine; its layer-range stages are
// reported as served by this peer.
import type { Engine } from '../engine/engine.ts';
import { chatTemplateFor } from '../tokenizer/index.ts';
import type { GenerateRequest, Generation, ModelDescriptor, ModelProvider, ModelText } from './provider.ts';
import { ApiError } from '../protocol/api-error.ts';

export interface EngineModel {
  /** The name clients use in `model`. */
  id: string;
  engine: Engine;
  /** This peer's name in x-mesh-served-by. Default "local". */
  peer?: string;
  ownedBy?: string;
  created?: number;
}

/** Resolves after pending I/O callbacks have run (setImmediate in Node, a message hop in browsers). */
function macrotask(): Promise<void> {
  if (typeof setImmediate === 'function') return new Promise((resolve) => setImmediate(resolve));
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => { channel.port1.close(); resolve(); };
    channel.port2.postMessage(null);
  });
}

export class EngineProvider implements ModelProvider {
  private readonly models = new Map<string, EngineModel>();
  private readonly texts = new Map<string, ModelText>();

  constructor(models: readonly EngineModel[]) {
    for (const m of models) this.models.set(m.id, m);
  }

  listModels(): ModelDescriptor[] {
    return [...this.models.values()].map((m) => ({
      id: m.id, ownedBy: m.ownedBy ?? 'local', contextLength: m.engine.maxPositions, created: m.created ?? 0,
    }));
  }

  async modelText(id: string): Promise<ModelText> {
    let text = this.texts.get(id);
    if (!text) {
      const engine = this.get(id).engine;
      text = { tokenizer: engine.tokenizer, template: chatTemplateFor(engine.model.header.metadata, engine.tokenizer) };
      this.texts.set(id, text);
    }
    return text;
  }

  async generate(request: GenerateRequest): Promise<Generation> {
    const m = this.get(request.model);
    const events = m.engine.generate({ promptTokens: request.promptTokens, maxTokens: request.maxTokens, sampling: request.sampling, signal: request.signal });
    async function* tokens(): AsyncGenerator<number> {
      for await (const e of events) {
        if (e.type !== 'token') continue;
        yield e.token;
        // A small model's step can finish without ever leaving the microtask queue: let I/O run between
        // tokens, so a client's disconnect is seen (and the generation stopped) within one token, and
        // other requests' streams keep flowing.
        await macrotask();
      }
    }
    return {
      servedBy: m.engine.ranges.map(([first, end]) => ({ peer: m.peer ?? 'local', layers: [first, end] as [number, number] })),
      tokens: tokens(),
    };
  }

  private get(id: string): EngineModel {
    const m = this.models.get(id);
    if (!m) throw new ApiError('not_found', `the model "${id}" is not loaded here`, { param: 'model', code: 'model_not_found' });
    return m;
  }
}
