// Teacher-forced log-probs of a token sequence through the head's plan, from any member of the mesh
// (a client tab): this peer embeds and computes the logits, the plan's stages run the layers over
// activation streams. The browser mesh spec compares them with llama.cpp's, so a split across tabs
// is checked number by number, not only by its greedy tokens.
import { openHead } from '../../engine/head.ts';
import type { ComputeOptions, ModelFile } from '../../engine/model.ts';
import { openTail } from '../../engine/tail.ts';
import type { LayerPlan } from '../../protocol/mesh-plan.ts';
import type { MeshNode } from '../net/mesh-node.ts';
import { createMeshSession } from './mesh-session.ts';
import { PipelineError } from './pipeline-errors.ts';

export interface TokenLogprob {
  readonly id: number;
  /** Natural-log probability (float64 log-softmax of the f32 logits). */
  readonly logprob: number;
}

export interface MeshLogprobsOptions {
  readonly node: MeshNode;
  readonly plan: LayerPlan;
  readonly file: ModelFile;
  readonly tokens: readonly number[];
  readonly topK: number;
  /** Kernels for the embedding and logits here; the reference kernels by default. */
  readonly compute?: ComputeOptions;
  readonly stageTimeoutMs?: number;
}

/** positions[i]: the top-K next tokens after tokens[0..i], highest first (lower id first on a tie). */
export async function meshLogprobs(o: MeshLogprobsOptions): Promise<TokenLogprob[][]> {
  const c = o.file.config;
  let failure: string | undefined;
  const session = createMeshSession({
    node: o.node,
    // One fixed plan: a stage that fails ends the probe with a pipeline_no_route error (the head replans for real traffic).
    coordinator: {
      waitForRoute: async () => undefined,
      markFailed: (peerId, why) => void (failure = `the stage on ${peerId} failed: ${why}`),
    },
    head: await openHead(o.file, o.compute),
    tail: await openTail(o.file, o.compute),
    nEmbd: c.nEmbd,
    nVocab: c.nVocab,
    maxPositions: c.nCtxTrain,
    plan: o.plan,
    topology: 'star',
    ...(o.stageTimeoutMs ? { stageTimeoutMs: o.stageTimeoutMs } : {}),
  });
  try {
    let logits: Float32Array;
    try {
      logits = await session.extend([...o.tokens], { logits: 'all' });
    } catch (error) {
      throw failure
        ? new PipelineError('pipeline_no_route', `teacher-forced log-probs through plan ${o.plan.epoch} failed: ${failure}`, { cause: error })
        : error;
    }
    return o.tokens.map((_, i) => topLogprobs(logits.subarray(i * c.nVocab, (i + 1) * c.nVocab), o.topK));
  } finally {
    session.free();
  }
}

function topLogprobs(logits: Float32Array, k: number): TokenLogprob[] {
  let max = -Infinity;
  for (const x of logits) max = Math.max(max, x);
  let sum = 0;
  for (const x of logits) sum += Math.exp(x - max);
  const logZ = max + Math.log(sum);
  const ids = Array.from(logits.keys())
    .sort((a, b) => logits[b] - logits[a] || a - b)
    .slice(0, k);
  return ids.map((id) => ({ id, logprob: logits[id] - logZ }));
}

export interface ProbeOptions extends Omit<MeshLogprobsOptions, 'file'> {
  readonly openFile: (model: string) => Promise<ModelFile>;
  readonly log?: (line: string) => void;
}

/**
 * meshLogprobs from a member that may have just joined: it waits (20 s at most) until it links to
 * every stage of the plan, directly where it can (a relayed link may be upgraded to WebRTC under
 * the probe's streams; after 15 s it goes with what there is), and tries a fresh session again when
 * a link is replaced mid-probe.
 */
export async function probeThroughPlan(o: ProbeOptions): Promise<TokenLogprob[][]> {
  const { node, plan } = o;
  const linked = (direct: boolean) => plan.stages.every((s) => node.isMember(s.peerId) && node.linksTo(s.peerId).some((t) => !direct || t !== 'relay'));
  const deadline = Date.now() + 20_000;
  while (!linked(Date.now() < deadline - 5000)) {
    if (Date.now() > deadline) throw new Error('no link to every stage of the plan after 20 s');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const file = await o.openFile(plan.model);
  for (let attempt = 1; ; attempt++) {
    try {
      return await meshLogprobs({ ...o, file });
    } catch (error) {
      if (attempt >= 5) throw error;
      o.log?.(`pipeline: teacher-forced probe failed, trying again: ${(error as Error).message}`);
      await new Promise((resolve) => setTimeout(resolve, 1500));
    }
  }
}
