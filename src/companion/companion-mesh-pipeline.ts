// The companion as the pipeline's head: each model it serves that is also published under the
// app's /models/ (so peers can read their layers from it) is planned across the server peers of its
// mesh, and /v1 serves it through them once their stages are ready, from its own engine until then
// (and whenever no plan fits). Several models share the servers out first (model-shares.ts: a stage
// runs one model at a time) and requests go by their `model` to that model's head (model-router.ts).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EngineProvider } from '../provider/engine-provider.ts';
import type { ModelProvider } from '../provider/provider.ts';
import { modelMemory } from '../mesh/layer-memory.ts';
import type { MeshNode } from '../mesh/net/mesh-node.ts';
import { ModelRouter } from '../mesh/pipeline/model-router.ts';
import { ModelShares } from '../mesh/pipeline/model-shares.ts';
import { startPipelineHead, type PipelineHead } from '../mesh/pipeline/pipeline-head.ts';
import type { SpeculativeConfig } from '../provider/speculative-mode.ts';
import type { ServedModel } from './served-model.ts';

export interface CompanionPipelineOptions {
  readonly node: MeshNode;
  readonly models: readonly ServedModel[];
  /** The folder the app server publishes under /models/. */
  readonly modelsDir: string;
  readonly stageTimeoutMs?: number;
  /** --draft: the served models decode speculatively, solo (their fallback) and through the plan. */
  readonly speculative?: SpeculativeConfig;
  readonly log?: (line: string) => void;
}

export interface CompanionPipeline {
  /** What /v1 runs on: every model, each through its head. */
  readonly provider: ModelProvider;
  /** One per model planned across the mesh, in the order the models were given. */
  readonly heads: readonly PipelineHead[];
  stop(): void;
}

export async function startCompanionPipeline(o: CompanionPipelineOptions): Promise<CompanionPipeline | undefined> {
  const fallback = new EngineProvider(
    o.models.map((m) => m.model),
    o.speculative ? { speculative: o.speculative } : {},
  );
  const published = o.models.filter((m) => existsSync(join(o.modelsDir, `${m.info.id}.gguf`)));
  for (const m of o.models)
    if (!published.includes(m))
      o.log?.(
        `the mesh does not split ${m.info.id}: peers read layers from /models/${m.info.id}.gguf, which is not in ${o.modelsDir}; the companion serves it alone`,
      );
  if (published.length === 0) return undefined;
  const heads: PipelineHead[] = [];
  const shares =
    published.length > 1
      ? new ModelShares(
          () => o.node.memberList(),
          published.map((m) => ({
            id: m.info.id,
            memory: modelMemory(m.model.engine.model.header),
            lastPlan: () => heads.find((h) => h.coordinator.modelId === m.info.id)?.coordinator.lastPlan(),
          })),
        )
      : undefined;
  try {
    for (const served of published) {
      const id = served.info.id;
      o.log?.(`the mesh plans ${id} across its server peers (they read /models/${id}.gguf)`);
      const { engine } = served.model;
      // The head a tab that makes a mesh runs too (pipeline-head.ts), here with the companion's engine behind it.
      heads.push(
        await startPipelineHead({
          node: o.node,
          model: { id, file: engine.model, tokenizer: engine.tokenizer, maxPositions: engine.maxPositions, headAndTail: engine.headAndTail },
          fallback,
          ...(shares ? { peerFilter: (peers) => shares.peersFor(id, peers) } : {}),
          ...(o.speculative ? { speculative: o.speculative } : {}),
          ...(o.stageTimeoutMs ? { stageTimeoutMs: o.stageTimeoutMs } : {}),
          // A stage lost mid-answer: the answer goes on on the companion's own stages at once.
          localStages: engine.stages,
          onRecovered: ({ failed, ms, plan }) =>
            o.log?.(`pipeline: recovered from ${failed} in ${ms} ms ${plan ? `on plan ${plan.epoch} of ${id}` : "on the companion's own layers"}`),
          ...(o.log ? { log: o.log } : {}),
        }),
      );
    }
  } catch (error) {
    for (const h of heads) h.stop();
    throw error;
  }
  const local = new Map(
    o.models.map((m) => [
      m.info.id,
      m.model.engine.ranges.map(([start, end]) => ({ peer: m.model.peer ?? 'companion', layers: [start, end] as [number, number] })),
    ]),
  );
  return {
    provider: new ModelRouter({ heads, fallback, localServedBy: (model) => local.get(model) }),
    heads,
    stop: () => {
      for (const h of heads) h.stop();
    },
  };
}
