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
import type { LayerPlan } from '../../protocol/mesh-plan.ts';
import { ApiError } from '../../protocol/api-error.ts';
import type { Engine } from '../../engine/engine.ts';
import type { Head } from '../../engine/head.ts';
import type { Tail } from '../../engine/tail.ts';
import type { Tokenizer } from '../../tokenizer/tokenizer.ts';
import type { MeshNode } from '../net/mesh-node.ts';
import type { PipelineCoordinator } from './coordinator.ts';
import { createMeshSession, type MeshSessionOptions } from './mesh-session.ts';
import { PipelineError, StageCheckFailedError } from './pipeline-errors.ts';
import { checkedTokens } from './checked-tokens.ts';
import type { StageChecker, StageCheckStatus } from './stage-check.ts';

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
  /** Re-computes the stages' work (stage-check.ts); absent: answers say their stages were unchecked. */
  readonly checker?: StageChecker;
  readonly log?: (line: string) => void;
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

function servedByOf(plan: LayerPlan, check: string): ServedBy[] {
  return plan.stages.map((s) => ({ peer: s.peerId, layers: [s.layers.start, s.layers.end] as [number, number], check }));
}

/** The stages of `plan` run by `peers`, with `check` said of them. */
function stagesOf(plan: LayerPlan, peers: readonly string[], check: string): ServedBy[] {
  return plan.stages
    .filter((s) => peers.includes(s.peerId))
    .map((s) => ({ peer: s.peerId, layers: [s.layers.start, s.layers.end] as [number, number], check }));
}

/** A streamed answer that a stage corrupted: the tokens sent cannot be taken back, so it ends with this error. */
function stageCheckFailed(error: StageCheckFailedError): ApiError {
  return new ApiError(
    'unavailable',
    `a mesh stage computed wrong hidden states, so the text streamed so far is wrong from about ${error.detectSteps ?? 0} tokens back (${error.reason}); ${error.peerIds.length ? `the stage on ${error.peerIds.join(', ')} is quarantined` : `the stages on ${error.suspects.join(', ')} are checked one by one from now on`}: send the request again`,
    { code: 'mesh_stage_check_failed', retryAfter: 1, cause: error },
  );
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
    const o = this.o;
    const speculative = this.speculative ? { mode: this.speculative, stats: emptySpeculativeStats() } : undefined;
    const check = o.checker ? 'checked' : 'unchecked';
    const servedBy: ServedBy[] = servedByOf(route.plan, check);
    /** Stages quarantined during this answer, and the plan in use now. */
    const caught: ServedBy[] = [];
    let current = route.plan;
    const moveTo = (plan: LayerPlan | 'local') => {
      const now =
        plan === 'local'
          ? [{ peer: o.node.selfPeerId, layers: [0, o.localStages?.at(-1)?.end ?? 0] as [number, number], check: 'head' }]
          : servedByOf(plan, check);
      if (plan !== 'local') current = plan;
      servedBy.splice(0, servedBy.length, ...now, ...caught);
    };
    if (!o.checker) {
      const session = createMeshSession({ ...o, plan: route.plan });
      async function* tokens(): AsyncGenerator<number> {
        try {
          yield* sessionTokens(session, o.tokenizer, request, speculative);
        } catch (error) {
          throw meshUnavailable(error);
        } finally {
          session.free();
        }
      }
      return { servedBy, tokens: tokens(), ...(speculative ? { speculative: speculative.stats } : {}) };
    }
    const tokens = checkedTokens({
      request,
      plan: route.plan,
      // A head that holds the layers goes on on its own when no other plan is ready at once.
      waitForPlan: async () =>
        o.localStages ? (o.coordinator.route()?.plan ?? 'local') : (await o.coordinator.waitForRoute(o.recoverTimeoutMs ?? 20_000, request.signal))?.plan,
      open: (plan) =>
        createMeshSession({
          ...o,
          ...(plan === 'local' ? {} : { plan }),
          onRecovered: (info) => {
            o.onRecovered?.(info);
            // A stage refused mid-answer (NaN) and quarantined: the answer went on without it.
            const out = o.checker?.status().quarantined.find((q) => q.peerId === info.failed);
            if (out) caught.push(...stagesOf(current, [out.peerId], `failed: ${out.reason}`));
            moveTo(info.plan ?? 'local');
          },
        }),
      run: (session, req) => sessionTokens(session, o.tokenizer, req, speculative),
      isEog: (token) => o.tokenizer.isEog(token),
      onRedo: (plan, failed) => {
        // The answer is computed again on `plan`: served-by names its stages, and the quarantined one with its reason.
        caught.push(...stagesOf(current, failed.peerIds, `failed: ${failed.reason}`));
        moveTo(plan);
      },
      failed: (error) => (error instanceof StageCheckFailedError ? stageCheckFailed(error) : meshUnavailable(error)),
    });
    return { servedBy, tokens, ...(speculative ? { speculative: speculative.stats } : {}) };
  }

  /** What the stage checks found so far (the dashboard's and the tests' view). */
  checks(): StageCheckStatus {
    return (
      this.o.checker?.status() ?? {
        mode: 'unchecked',
        note: "this head holds none of the model's layers and no other peer holds the same range: the stages' work is not re-computed",
        checks: 0,
        rowsChecked: 0,
        mismatches: 0,
        refused: 0,
        detectStepsMax: 0,
        computeMs: 0,
        quarantined: [],
      }
    );
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
      await session.verify().catch((error: unknown) => {
        throw error instanceof StageCheckFailedError ? stageCheckFailed(error) : meshUnavailable(error);
      });
      return { servedBy: servedByOf(plan, this.o.checker ? 'checked' : 'unchecked'), positions };
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
