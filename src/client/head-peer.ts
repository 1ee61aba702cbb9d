// A tab heading the mesh it made: its PeerNode (head: true) announces it and gossips, the pipeline
// head the companion runs too (src/mesh/pipeline/pipeline-head.ts) plans the model on that node's
// mesh layer, and /v1 is served to the members over the API stream with the handleApiRequest the
// companion uses. No DOM here: Node tests run it as the tab does (mesh-create.ts).
import { createApiContext, handleApiRequest, type ApiContext } from '../api/index.ts';
import type { ComputeOptions, ModelFile } from '../engine/model.ts';
import type { MeshIdentity } from '../mesh/identity.ts';
import type { Invite } from '../mesh/invite.ts';
import { serveMeshApi } from '../mesh/net/api-stream.ts';
import { PeerNode, type PeerNodeOptions } from '../mesh/net/peer-node.ts';
import { startPipelineHead, type PipelineHead, type StageCheckSource } from '../mesh/pipeline/pipeline-head.ts';
import { computeFor } from '../engine/backend.ts';
import { withLayersRead } from '../engine/layer-span.ts';
import { openStage } from '../engine/stage.ts';
import type { PeerRole } from '../protocol/mesh-version.ts';
import type { ModelProvider } from '../provider/provider.ts';

export interface HeadPeerOptions {
  readonly identity: MeshIdentity;
  /** The invite this head made (createInvite): its bootstrap is `/p2p/<identity.peerId>`. */
  readonly invite: Invite;
  /** server: it answers from `fallback` (its own engine) while no plan is ready; client: 503 until one is. */
  readonly role: PeerRole;
  readonly memoryBudgetBytes: number;
  /** The model as requests name it, and its GGUF (Range-read: the head reads its embedding, output and tokenizer). */
  readonly model: { readonly id: string; readonly file: ModelFile; readonly compute?: ComputeOptions };
  readonly fallback?: ModelProvider;
  /** PeerNode options of the transport (webrtc, listen: Node tests listen on WebSockets). */
  readonly peer?: Partial<Pick<PeerNodeOptions, 'webrtc' | 'listen' | 'backend'>>;
  readonly republishMs?: number;
  readonly onChange?: () => void;
  readonly log?: (line: string) => void;
}

export interface HeadPeer {
  readonly peer: PeerNode;
  readonly pipeline: PipelineHead;
  /** The head's /v1 (what members reach over the API stream), for its own page's fetch('/v1/…'). */
  readonly api: ApiContext;
  stop(): Promise<void>;
}

/**
 * A server head tab re-computes its stages' work (stage-check.ts) on WASM on this page, reading the
 * planned ranges' weights by Range (from the origin's weight cache once stored). A client head holds
 * none: its answers say the stages were unchecked.
 */
function serverHeadChecks(file: ModelFile): StageCheckSource {
  let kernels: Promise<ComputeOptions> | undefined;
  return {
    openRange: async (first, end) => openStage(await withLayersRead(file, first, end), first, end, await (kernels ??= computeFor('cpu'))),
    backend: 'wasm',
  };
}

export async function startHeadPeer(o: HeadPeerOptions): Promise<HeadPeer> {
  const peer = new PeerNode({
    identity: o.identity,
    invite: o.invite,
    head: true,
    role: o.role,
    backend: o.peer?.backend ?? 'wasm',
    memoryBudgetBytes: o.memoryBudgetBytes,
    ...(o.peer?.webrtc !== undefined ? { webrtc: o.peer.webrtc } : {}),
    ...(o.peer?.listen ? { listen: o.peer.listen } : {}),
    ...(o.onChange ? { onChange: o.onChange } : {}),
    ...(o.log ? { log: o.log } : {}),
  });
  let pipeline: PipelineHead | undefined;
  try {
    await peer.start();
    const node = peer.meshLayer;
    if (!node) throw new Error('unreachable: a started peer has a mesh layer');
    pipeline = await startPipelineHead({
      node,
      model: o.model,
      ...(o.role === 'server' ? { stageCheck: serverHeadChecks(o.model.file) } : {}),
      ...(o.fallback ? { fallback: o.fallback } : {}),
      ...(o.republishMs ? { republishMs: o.republishMs } : {}),
      ...(o.log ? { log: o.log } : {}),
    });
    // One context, so the head's own page and the members share the model's queue (fair by peer id).
    const api = createApiContext({ provider: pipeline.provider });
    await serveMeshApi(node, (request, info) => handleApiRequest(request, api, info), o.log);
    const running = pipeline;
    return {
      peer,
      pipeline: running,
      api,
      async stop() {
        running.stop();
        await peer.stop();
      },
    };
  } catch (error) {
    pipeline?.stop();
    await peer.stop().catch(() => {});
    throw error;
  }
}
