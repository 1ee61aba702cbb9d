// The one head of a mesh's pipeline, shared by the companion and by a tab that made a mesh: it plans
// the model across the mesh's server peers (coordinator.ts), embeds, computes the logits and samples
// (mesh-provider.ts), replays a session whose stage failed, and answers from a fallback (the head's
// own engine) while no plan is ready. A head with no engine of its own answers 503 mesh_unavailable.
import type { ModelFile } from '../../engine/model.ts';
import type { Stage } from '../../engine/stage.ts';
import { openHead, type Head } from '../../engine/head.ts';
import type { ComputeOptions } from '../../engine/model.ts';
import { openTail, type Tail } from '../../engine/tail.ts';
import { ApiError } from '../../protocol/api-error.ts';
import type { ModelDescriptor, ModelProvider, ModelText } from '../../provider/provider.ts';
import { chatTemplateFor, Tokenizer } from '../../tokenizer/index.ts';
import { modelMemory } from '../layer-memory.ts';
import type { MeshNode } from '../net/mesh-node.ts';
import type { PlannerOptions } from '../planner.ts';
import { CapacityLedger } from '../capacity.ts';
import { CapacityProbe, type CapacityProbeOptions } from './capacity-probe.ts';
import { PipelineCoordinator, type CoordinatorOptions } from './coordinator.ts';
import { MeshProvider, type MeshProviderOptions } from './mesh-provider.ts';

export interface PipelineHeadOptions {
  /** The mesh layer the head plans on (the companion's, or a head tab's PeerNode.meshLayer). */
  readonly node: MeshNode;
  /** The model as requests name it, and its GGUF: memory for the plan, embedding, output head, tokenizer. */
  readonly model: {
    readonly id: string;
    readonly file: ModelFile;
    /** Default: built from the GGUF's metadata. */
    readonly tokenizer?: Tokenizer;
    /** Context per session; default the model's training context. */
    readonly maxPositions?: number;
    /**
     * Embedding and output head already open on the holder's kernels (the companion's engine: WASM);
     * default: opened here on `compute`. The output head is a vocabulary-wide matmul every token: on
     * the scalar reference kernels it cost the bench model's split about 200 ms a token.
     */
    readonly headAndTail?: { readonly head: Head; readonly tail: Tail };
    /** Kernels to open them on when not given; default the reference kernels. */
    readonly compute?: ComputeOptions;
  };
  /**
   * Serves the model whole while no plan is ready (the companion's engine, a server tab's worker),
   * and any other model it lists. None: the head serves only through plans, 503 until one is ready.
   */
  readonly fallback?: ModelProvider;
  /** The head's own stages when it holds the whole model: a failed stage is replayed on them at once. */
  readonly localStages?: readonly Stage[];
  /** The batch those stages run exactly (engine/exact-batch.ts exactBatchOf of their backend); default 1. */
  readonly localExactBatch?: number;
  /** Decode through the mesh speculatively: the head drafts, the stages verify each draft in one pass. */
  readonly speculative?: MeshProviderOptions['speculative'];
  readonly stageTimeoutMs?: number;
  readonly recoverTimeoutMs?: number;
  readonly republishMs?: number;
  readonly planner?: PlannerOptions;
  /**
   * How the head observes its servers (capacity-probe.ts: its own round trips, timed layers) to
   * hold their gossiped claims to (capacity.ts). Default on; false: bounds only, no probing (tests
   * that count a stage's frames).
   */
  readonly capacityProbe?: false | Pick<CapacityProbeOptions, 'everyMs' | 'retimeMs' | 'frames' | 'perRound'>;
  /** The servers this model may be planned on, where a head serves several models (model-shares.ts); default all. */
  readonly peerFilter?: CoordinatorOptions['peerFilter'];
  readonly onRecovered?: MeshProviderOptions['onRecovered'];
  readonly log?: (line: string) => void;
}

export interface PipelineHead {
  /** What /v1 runs on: handleApiRequest over it, for HTTP clients and members alike. */
  readonly provider: MeshProvider;
  readonly coordinator: PipelineCoordinator;
  stop(): void;
}

/** Seconds a client is asked to wait while the mesh has no ready plan: about one replan. */
const RETRY_AFTER_S = 5;

export async function startPipelineHead(o: PipelineHeadOptions): Promise<PipelineHead> {
  const { id, file } = o.model;
  const tokenizer = o.model.tokenizer ?? Tokenizer.fromMetadata(file.header.metadata);
  const maxPositions = o.model.maxPositions ?? file.config.nCtxTrain;
  const { head, tail } = o.model.headAndTail ?? { head: await openHead(file, o.model.compute), tail: await openTail(file, o.model.compute) };
  const ledger = new CapacityLedger();
  const coordinator = new PipelineCoordinator({
    node: o.node,
    model: { id, memory: modelMemory(file.header) },
    capacity: ledger,
    ...(o.republishMs ? { republishMs: o.republishMs } : {}),
    ...(o.planner ? { planner: o.planner } : {}),
    ...(o.peerFilter ? { peerFilter: o.peerFilter } : {}),
    ...(o.log ? { log: o.log } : {}),
  });
  coordinator.start();
  const probe =
    o.capacityProbe === false
      ? undefined
      : new CapacityProbe({
          node: o.node,
          route: () => coordinator.route(),
          ledger,
          width: file.config.nEmbd,
          memory: modelMemory(file.header),
          ...(o.capacityProbe ?? {}),
          ...(o.log ? { log: o.log } : {}),
        });
  probe?.start();
  const provider = new MeshProvider({
    node: o.node,
    coordinator,
    fallback:
      o.fallback ?? plansOnly({ id, ownedBy: 'mesh', contextLength: maxPositions }, { tokenizer, template: chatTemplateFor(file.header.metadata, tokenizer) }),
    head,
    tail,
    tokenizer,
    nEmbd: file.config.nEmbd,
    nVocab: file.config.nVocab,
    maxPositions,
    ...(o.stageTimeoutMs ? { stageTimeoutMs: o.stageTimeoutMs } : {}),
    ...(o.recoverTimeoutMs ? { recoverTimeoutMs: o.recoverTimeoutMs } : {}),
    ...(o.localStages ? { localStages: o.localStages } : {}),
    ...(o.localExactBatch ? { localExactBatch: o.localExactBatch } : {}),
    ...(o.speculative ? { speculative: o.speculative } : {}),
    ...(o.onRecovered ? { onRecovered: o.onRecovered } : {}),
  });
  return {
    provider,
    coordinator,
    stop: () => {
      probe?.stop();
      coordinator.stop();
    },
  };
}

/**
 * The fallback of a head that runs no layers (a client-role head tab): it lists the model and knows
 * its text, but with no ready plan there is nobody to run it: 503 with Retry-After, not a hang.
 */
function plansOnly(model: ModelDescriptor, text: ModelText): ModelProvider {
  const unavailable = () =>
    new ApiError(
      'unavailable',
      `the mesh cannot serve ${model.id} right now: no plan of its server peers is ready (they may still be joining or loading layers); retry shortly, or add server peers`,
      { code: 'mesh_unavailable', retryAfter: RETRY_AFTER_S },
    );
  const known = (id: string) => {
    if (id !== model.id)
      throw new ApiError('not_found', `this mesh serves only "${model.id}"; GET /v1/models lists it`, { param: 'model', code: 'model_not_found' });
  };
  return {
    listModels: () => [model],
    modelText: async (id) => {
      known(id);
      return text;
    },
    generate: async (request) => {
      known(request.model);
      throw unavailable();
    },
    supportsLogprobs: (id) => id === model.id,
    promptLogprobs: async (request) => {
      known(request.model);
      throw unavailable();
    },
  };
}
