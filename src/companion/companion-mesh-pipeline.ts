// The companion as the pipeline's head: when the model it serves is also published under the
// app's /models/ (so tabs can Range-read their layers from it), it plans that model across the
// server tabs of its mesh and serves /v1 through them once their stages are ready, from its own
// engine until then (and whenever no plan fits).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { computeFor } from '../engine/backend.ts';
import type { ComputeOptions } from '../engine/model.ts';
import { openStage } from '../engine/stage.ts';
import { EngineProvider } from '../provider/engine-provider.ts';
import type { MeshNode } from '../mesh/net/mesh-node.ts';
import { startPipelineHead, type PipelineHead } from '../mesh/pipeline/pipeline-head.ts';
import type { SpeculativeConfig } from '../provider/speculative-mode.ts';
import type { ServedModel } from './served-model.ts';

export interface CompanionPipelineOptions {
  readonly node: MeshNode;
  readonly models: readonly ServedModel[];
  /** The folder the app server publishes under /models/. */
  readonly modelsDir: string;
  readonly stageTimeoutMs?: number;
  /** --draft: the served model decodes speculatively, solo (its fallback) and through the plan. */
  readonly speculative?: SpeculativeConfig;
  readonly log?: (line: string) => void;
}

export type CompanionPipeline = PipelineHead;

export async function startCompanionPipeline(o: CompanionPipelineOptions): Promise<CompanionPipeline | undefined> {
  const fallback = new EngineProvider(
    o.models.map((m) => m.model),
    o.speculative ? { speculative: o.speculative } : {},
  );
  const served = o.models.find((m) => existsSync(join(o.modelsDir, `${m.info.id}.gguf`)));
  if (!served) {
    for (const m of o.models)
      o.log?.(
        `the mesh does not split ${m.info.id}: tabs read layers from /models/${m.info.id}.gguf, which is not in ${o.modelsDir}; the companion serves it alone`,
      );
    return undefined;
  }
  o.log?.(`the mesh plans ${served.info.id} across its server tabs (they read /models/${served.info.id}.gguf)`);
  const { engine } = served.model;
  // Stage checks re-compute any planned range on kernels of the engine's kind (a pool of their own).
  let kernels: Promise<ComputeOptions> | undefined;
  const stageCheck = {
    openRange: async (first: number, end: number) => openStage(engine.model, first, end, await (kernels ??= computeFor(engine.backend))),
    backend: engine.backend === 'cpu' ? ('wasm' as const) : engine.backend,
  };
  // The head a tab that makes a mesh runs too (pipeline-head.ts), here with the companion's engine behind it.
  return startPipelineHead({
    node: o.node,
    model: { id: served.info.id, file: engine.model, tokenizer: engine.tokenizer, maxPositions: engine.maxPositions, headAndTail: engine.headAndTail },
    fallback,
    ...(o.speculative ? { speculative: o.speculative } : {}),
    ...(o.stageTimeoutMs ? { stageTimeoutMs: o.stageTimeoutMs } : {}),
    // A stage lost mid-answer: the answer goes on on the companion's own stages at once.
    localStages: engine.stages,
    stageCheck,
    onRecovered: ({ failed, ms, plan }) =>
      o.log?.(`pipeline: recovered from ${failed} in ${ms} ms ${plan ? `on plan ${plan.epoch}` : "on the companion's own layers"}`),
    ...(o.log ? { log: o.log } : {}),
  });
}
