// What the companion's /v1 serves: its own models (the Node engine) and the models attached tabs
// announce. A model the companion serves itself runs here unless `preferTabs` is set and a tab holds
// it; any other model goes to a tab. /v1/models lists both, once each.
import type { GenerateRequest, Generation, ModelDescriptor, ModelProvider, ModelText, PromptLogprobs, PromptLogprobsRequest } from '../provider/provider.ts';
import { ApiError } from '../protocol/api-error.ts';
import type { TabHub } from './tab-hub.ts';

export interface TabRoutingOptions {
  /** Send requests for a model both serve to a tab rather than the companion's engine. */
  preferTabs?: boolean;
}

export class TabRoutingProvider implements ModelProvider {
  private readonly local: ModelProvider;
  private readonly hub: TabHub;
  private readonly options: TabRoutingOptions;

  constructor(local: ModelProvider, hub: TabHub, options: TabRoutingOptions = {}) {
    this.local = local;
    this.hub = hub;
    this.options = options;
  }

  async listModels(): Promise<ModelDescriptor[]> {
    const own = await this.local.listModels();
    const ids = new Set(own.map((m) => m.id));
    return [...own, ...this.hub.listModels().filter((m) => !ids.has(m.id))];
  }

  modelText(model: string): Promise<ModelText> {
    return this.route(model).then((p) => p.modelText(model));
  }

  async generate(request: GenerateRequest): Promise<Generation> {
    return (await this.route(request.model)).generate(request);
  }

  /** Log-probs come from whichever provider serves the model (the engine reports them; tabs do not yet). */
  async supportsLogprobs(model: string): Promise<boolean> {
    return (await (await this.route(model)).supportsLogprobs?.(model)) ?? false;
  }

  async promptLogprobs(request: PromptLogprobsRequest): Promise<PromptLogprobs> {
    const p = await this.route(request.model);
    if (!p.promptLogprobs)
      throw new ApiError('invalid_request', `this model's provider does not report log-probs ("${request.model}" is served by a tab); remove logprobs`, {
        param: 'logprobs',
        code: 'logprobs_not_supported',
      });
    return p.promptLogprobs(request);
  }

  private async route(model: string): Promise<ModelProvider> {
    const tab = this.hub.serves(model);
    if (tab && this.options.preferTabs) return this.hub;
    const own = (await this.local.listModels()).some((m) => m.id === model);
    if (own) return this.local;
    return tab ? this.hub : this.local; // neither: the local provider's not-found error
  }
}
