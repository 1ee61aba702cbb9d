// A ModelProvider that serves the coordinator's model through the mesh when a ready plan exists,
// and from the fallback (the head's own engine) otherwise. Tokenizer, template and sampling stay
// with the head: the mesh only moves hidden states. x-mesh-served-by names each stage's peer and
// layers. With `speculative`, the head drafts and the stages verify each draft in one pass
// (mesh-session.ts): the answer is plain decoding's, in fewer round trips.
import { emptySpeculativeStats } from '../../engine/drafter.ts';
import { exactBatchOf } from '../../engine/exact-batch.ts';
import { scorePrompt } from '../../provider/engine-provider.ts';
import { sessionTokens } from '../../provider/session-tokens.ts';
import { speculativeMode, type SpeculativeConfig, type SpeculativeMode } from '../../provider/speculative-mode.ts';
import type { GenerateRequest, Generation, ModelDescriptor, ModelProvider, ModelText, PromptLogprobs, PromptLogprobsRequest } from '../../provider/provider.ts';
import { ApiError } from '../../protocol/api-error.ts';
import type { Engine } from '../../engine/engine.ts';
import type { Head } from '../../engine/head.ts';
import type { Tail } from '../../engine/tail.ts';
import type { Tokenizer } from '../../tokenizer/tokenizer.ts';
import type { MeshNode } from '../net/mesh-node.ts';
import type { PipelineCoordinator } from './coordinator.ts';
import { createMeshSession, type MeshSessionOptions } from './mesh-session.ts';
import { PipelineError } from './pipeline-errors.ts';

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
  /** How long a session whose stage failed waits for a new ready plan (no local layers). */
  readonly recoverTimeoutMs?: number;
  /** How hidden states travel (mesh-session.ts): chain by default, star where stages lack direct links. */
  readonly topology?: MeshSessionOptions['topology'];
  readonly onRecovered?: MeshSessionOptions['onRecovered'];
  /** The head's own stages when it holds the whole model (mesh-session.ts): no wait for a replan. */
  readonly localStages?: MeshSessionOptions['localStages'];
  readonly localExactBatch?: MeshSessionOptions['localExactBatch'];
  /** Decode the coordinator's model speculatively through the mesh; responses carry usage.speculative. */
  readonly speculative?: SpeculativeConfig;
}

/** Seconds a client is asked to wait when the mesh has no ready plan: about one replan. */
const RETRY_AFTER_S = 5;

/**
 * A pipeline that cannot go on (no ready plan within the wait, every stage failing) is the mesh
 * being short of peers for now: a 503 with Retry-After in the caller's protocol, not an internal error.
 */
function meshUnavailable(error: unknown): unknown {
  if (!(error instanceof PipelineError)) return error;
  return new ApiError('unavailable', `the mesh cannot serve this model right now: ${error.message}`, {
    code: 'mesh_unavailable',
    retryAfter: RETRY_AFTER_S,
    cause: error,
  });
}

export class MeshProvider implements ModelProvider {
  private readonly o: MeshProviderOptions;
  private readonly speculative: SpeculativeMode | undefined;

  constructor(options: MeshProviderOptions) {
    this.o = options;
    this.speculative = options.speculative ? speculativeMode(options.speculative, options.nVocab, options.coordinator.modelId) : undefined;
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
    const speculative = this.speculative ? { mode: this.speculative, stats: emptySpeculativeStats() } : undefined;
    async function* tokens(): AsyncGenerator<number> {
      try {
        yield* sessionTokens(session, o.tokenizer, request, speculative);
      } catch (error) {
        throw meshUnavailable(error);
      } finally {
        session.free();
      }
    }
    return {
      servedBy: plan.stages.map((s) => ({ peer: s.peerId, layers: [s.layers.start, s.layers.end] as [number, number] })),
      tokens: tokens(),
      ...(speculative ? { speculative: speculative.stats } : {}),
    };
  }

  /** The head samples (generateTokens runs here), so the mesh reports log-probs as one machine does. */
  supportsLogprobs(model: string): boolean | Promise<boolean> {
    return model === this.o.coordinator.modelId || (this.o.fallback.supportsLogprobs?.(model) ?? false);
  }

  /** Teacher-forced through the mesh when a plan is ready: the check that the mesh computes what one machine does. */
  async promptLogprobs(request: PromptLogprobsRequest): Promise<PromptLogprobs> {
    const route = request.model === this.o.coordinator.modelId ? this.o.coordinator.route() : undefined;
    if (!route) {
      if (!this.o.fallback.promptLogprobs)
        throw new ApiError('invalid_request', `this model's provider does not report log-probs; remove logprobs`, {
          param: 'logprobs',
          code: 'logprobs_not_supported',
        });
      return this.o.fallback.promptLogprobs(request);
    }
    const { plan } = route;
    const session = createMeshSession({ ...this.o, plan });
    try {
      const positions = await scorePrompt(session, this.o.nVocab, request).catch((error: unknown) => {
        throw meshUnavailable(error);
      });
      return { servedBy: plan.stages.map((s) => ({ peer: s.peerId, layers: [s.layers.start, s.layers.end] as [number, number] })), positions };
    } finally {
      session.free();
    }
  }
}

/**
 * The MeshProvider of a head that holds `engine` itself (the companion): it embeds, computes the
 * logits and samples with the engine's own model, tokenizer, shape and kernels (so a split run
 * computes what the engine alone does); the rest of the options as given.
 */
export async function headProviderFor(
  engine: Engine,
  o: Omit<MeshProviderOptions, 'head' | 'tail' | 'tokenizer' | 'nEmbd' | 'nVocab' | 'maxPositions' | 'localExactBatch'>,
): Promise<MeshProvider> {
  // The engine's own embedding and output head, on its kernels: the split computes what the engine alone does.
  const { head, tail } = engine.headAndTail;
  const c = engine.config;
  return new MeshProvider({
    ...o,
    head,
    tail,
    tokenizer: engine.tokenizer,
    nEmbd: c.nEmbd,
    nVocab: c.nVocab,
    maxPositions: engine.maxPositions,
    localExactBatch: exactBatchOf(engine.backend),
  });
}
