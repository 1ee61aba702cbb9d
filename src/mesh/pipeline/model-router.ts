// The provider of a head that plans several models: each request goes by its `model` to that
// model's pipeline head (its MeshProvider: through its ready plan, else the head's own engine), and
// any model no head plans to the fallback. /v1/models lists the fallback's models, each with `mesh`:
// who would compute it now (the ready plan's stages, or the head's own layers). A model nobody
// serves is the fallback's 404 (the API's findModel says so first, in the caller's protocol).
import { ApiError } from '../../protocol/api-error.ts';
import type {
  GenerateRequest,
  Generation,
  ModelDescriptor,
  ModelProvider,
  ModelText,
  PromptLogprobs,
  PromptLogprobsRequest,
  ServedBy,
} from '../../provider/provider.ts';
import type { PipelineHead } from './pipeline-head.ts';

export interface ModelRouterOptions {
  readonly heads: readonly PipelineHead[];
  /** Serves every model whole (the companion's engines); each head's fallback too. */
  readonly fallback: ModelProvider;
  /** Who computes a model the fallback serves (the companion and its layers), for /v1/models' `mesh`. */
  readonly localServedBy?: (model: string) => ServedBy[] | undefined;
}

export class ModelRouter implements ModelProvider {
  private readonly o: ModelRouterOptions;

  constructor(options: ModelRouterOptions) {
    this.o = options;
  }

  async listModels(): Promise<ModelDescriptor[]> {
    return (await this.o.fallback.listModels()).map((m) => {
      const mesh = this.servedNow(m.id);
      return mesh ? { ...m, mesh } : m;
    });
  }

  modelText(model: string): Promise<ModelText> {
    return this.o.fallback.modelText(model);
  }

  generate(request: GenerateRequest): Promise<Generation> {
    return this.providerOf(request.model).generate(request);
  }

  async supportsLogprobs(model: string): Promise<boolean> {
    return (await this.providerOf(model).supportsLogprobs?.(model)) ?? false;
  }

  promptLogprobs(request: PromptLogprobsRequest): Promise<PromptLogprobs> {
    const provider = this.providerOf(request.model);
    if (!provider.promptLogprobs)
      throw new ApiError('invalid_request', `this model's provider does not report log-probs; remove logprobs`, {
        param: 'logprobs',
        code: 'logprobs_not_supported',
      });
    return provider.promptLogprobs(request);
  }

  private headOf(model: string): PipelineHead | undefined {
    return this.o.heads.find((h) => h.coordinator.modelId === model);
  }

  private providerOf(model: string): ModelProvider {
    return this.headOf(model)?.provider ?? this.o.fallback;
  }

  /** The stages of the model's ready plan, else whoever serves it whole. */
  private servedNow(model: string): ServedBy[] | undefined {
    const plan = this.headOf(model)?.coordinator.route()?.plan;
    if (plan) return plan.stages.map((s) => ({ peer: s.peerId, layers: [s.layers.start, s.layers.end] }));
    return this.o.localServedBy?.(model);
  }
}
