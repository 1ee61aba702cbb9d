// A ModelProvider that serves the coordinator's model through the mesh when a ready plan exists,
// and from the fallback (the head's own engine) otherwise. Tokenizer, template and sampling stay
// with the head: the mesh only moves hidden states. x-mesh-served-by names each stage's peer and
// layers.
import type { GenerateRequest, Generation, ModelDescriptor, ModelProvider, ModelText } from '../../api/provider.ts';
import { generateTokens } from '../../engine/generate.ts';
import type { Head } from '../../engine/head.ts';
import type { Tail } from '../../engine/tail.ts';
import type { Tokenizer } from '../../tokenizer/tokenizer.ts';
import type { MeshNode } from '../net/mesh-node.ts';
import type { PipelineCoordinator } from './coordinator.ts';
import { createMeshSession, type MeshSessionOptions } from './mesh-session.ts';

export interface MeshProviderOptions {
  readonly node: MeshNode;
  readonly coordinator: PipelineCoordinator;
  /** Serves every model, and the coordinator's model when no plan is ready. */
  readonly fallback: ModelProvider;
  readonly head: Head;
  readonly tail: Tail;
  readonly tokenizer: Tokenizer;
  readonly nEmbd: number;
  readonly nVocab: number;
  readonly maxPositions: number;
  readonly stageTimeoutMs?: number;
  /** How hidden states travel (mesh-session.ts): chain by default, star where stages lack direct links. */
  readonly topology?: MeshSessionOptions['topology'];
  readonly onRecovered?: MeshSessionOptions['onRecovered'];
}

/** Resolves after pending I/O has run, so a client's disconnect is seen between tokens. */
function macrotask(): Promise<void> {
  if (typeof setImmediate === 'function') return new Promise((resolve) => setImmediate(resolve));
  return new Promise((resolve) => setTimeout(resolve, 0));
}

export class MeshProvider implements ModelProvider {
  private readonly o: MeshProviderOptions;

  constructor(options: MeshProviderOptions) {
    this.o = options;
  }

  listModels(): ModelDescriptor[] | Promise<ModelDescriptor[]> {
    return this.o.fallback.listModels();
  }

  modelText(model: string): Promise<ModelText> {
    return this.o.fallback.modelText(model);
  }

  async generate(request: GenerateRequest): Promise<Generation> {
    const route = request.model === this.o.coordinator.modelId ? this.o.coordinator.route() : undefined;
    if (!route) return this.o.fallback.generate(request);
    const { plan } = route;
    const o = this.o;
    const session = createMeshSession({ ...o, plan });
    const events = generateTokens(session, o.tokenizer, { promptTokens: request.promptTokens, maxTokens: request.maxTokens, sampling: request.sampling, signal: request.signal });
    async function* tokens(): AsyncGenerator<number> {
      try {
        for await (const e of events) {
          if (e.type !== 'token') continue;
          yield e.token;
          await macrotask();
        }
      } finally {
        session.free();
      }
    }
    return { servedBy: plan.stages.map((s) => ({ peer: s.peerId, layers: [s.layers.start, s.layers.end] as [number, number] })), tokens: tokens() };
  }
}
