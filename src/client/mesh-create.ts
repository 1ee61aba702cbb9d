// Creating a private mesh in this tab, which then heads it: the secret is made here, the invite names
// this tab by peer id (`/p2p/<id>`: members find its addresses on the Nostr relay) and the model by
// URL, and head-peer.ts runs the pipeline head the companion runs too. The head's /v1 is this page's
// provider (fetch('/v1/…') here and, through the service worker, in every page of the origin). A
// server head also loads the whole model in its inference worker and answers with it while no plan
// is ready; a client head answers 503 until one is. From Home's form, or a link (create-link.ts).
// The state is published as window.meshApp.meshHead for the UI and for tests.
import type { ComputeOptions } from '../engine/model.ts';
import { handleApiRequest } from '../api/index.ts';
import { IdbIdentityStore } from '../mesh/identity-store-idb.ts';
import { loadOrCreateIdentity } from '../mesh/identity.ts';
import { createInvite, encodeInvite, inviteLink } from '../mesh/invite.ts';
import type { PeerRole } from '../protocol/mesh-version.ts';
import { WorkerEngine } from '../engine/worker-client.ts';
import type { ModelProvider } from '../provider/provider.ts';
import { WorkerProvider } from '../provider/worker-provider.ts';
import type { IceServer } from '../mesh/ice-servers.ts';
import { readCreateLink, type CreateRequest } from './create-link.ts';
import { headModel, type HeadModel } from './head-model.ts';
import type { HeadPeer } from './head-peer.ts';
import { claimIdentitySlot, companionRelay, openModelAt, savedRelays } from './mesh-join.ts';
import { PROVIDER_PRIORITY, type PageProviders } from './page-api.ts';

/** The layer plan the head runs requests on, as plain data. */
export interface HeadPlanView {
  readonly epoch: number;
  readonly stages: readonly { readonly peerId: string; readonly layers: readonly [number, number] }[];
  /** Every stage linked and loaded: requests run through it now. */
  readonly ready: boolean;
}

export type MeshHeadState =
  | { readonly status: 'none' }
  /** A create link that waits for a click (another origin, or no auto=1). */
  | { readonly status: 'requested'; readonly request: CreateRequest }
  | { readonly status: 'creating'; readonly model: HeadModel; readonly role: PeerRole }
  | {
      readonly status: 'heading';
      readonly model: HeadModel;
      readonly role: PeerRole;
      /** The invite link (`<app>#join=<token>`): what members open. */
      readonly invite: string;
      readonly meshId: string;
      readonly peerId: string;
      /** Members linked to this head now. */
      readonly members: number;
      readonly plan?: HeadPlanView;
      /** A server head runs the whole model in its worker too: its answer while no plan is ready. */
      readonly runsWhole: boolean;
    }
  | { readonly status: 'failed'; readonly error: string };

export interface CreateOptions {
  readonly modelUrl: string;
  readonly role: PeerRole;
  readonly budgetBytes: number;
  /** The Nostr relay the mesh announces on; default the link's, else the ones this app knows. */
  readonly relay?: string;
  /** STUN/TURN servers its invite names for the members' WebRTC links; default the link's (`ice=`). */
  readonly iceServers?: readonly IceServer[];
}

export interface MeshHeadControl {
  /** Plain data (structured-clonable), current at each read. */
  state(): MeshHeadState;
  /** Creates the mesh and heads it (the Create button, or a same-origin auto link). Rejects with what went wrong, also in state(). */
  create(options: CreateOptions): Promise<void>;
  /** Stops heading: its members are told the head left (PeerNode's head watch). */
  stop(): Promise<void>;
  onChange(listener: () => void): () => void;
}

export interface MeshHeadDeps {
  readonly providers: PageProviders;
  /** The relays this app knows (default: the companion's, from /companion.json, and the saved ones). */
  readonly relays?: () => Promise<readonly string[]>;
}

/** Where the head's models show in the page's providers (not MESH_PROVIDER: the route skips that one for a joined tab). */
export const MESH_HEAD_PROVIDER = 'mesh-head';
const DEFAULT_BUDGET_BYTES = 512 * 1024 * 1024;

export function createMeshHead(deps: MeshHeadDeps, href: string = location.href): MeshHeadControl {
  const listeners = new Set<() => void>();
  let request: CreateRequest | undefined;
  let failure: string | undefined;
  try {
    request = readCreateLink(href, location.origin);
  } catch (error) {
    failure = (error as Error).message;
  }
  let creating: { model: HeadModel; role: PeerRole } | undefined;
  let head: HeadPeer | undefined;
  let running: { model: HeadModel; role: PeerRole; link: string; runsWhole: boolean } | undefined;
  let withdraw: (() => void) | undefined;
  let unlisten: Array<() => void> = [];
  let fallbackEngine: { terminate(): void } | undefined;
  const relays = deps.relays ?? (async () => [...new Set([...[await companionRelay(location.origin)].filter((r): r is string => !!r), ...savedRelays()])]);

  const current = (): MeshHeadState => {
    if (head && running) {
      const snapshot = head.peer.snapshot();
      const coordinator = head.pipeline.coordinator;
      const plan = coordinator.currentPlan();
      return {
        status: 'heading',
        model: running.model,
        role: running.role,
        invite: running.link,
        meshId: snapshot.meshId,
        peerId: snapshot.peerId,
        members: snapshot.peers.filter((p) => p.member && p.links.length > 0).length,
        ...(plan
          ? {
              plan: {
                epoch: plan.epoch,
                stages: plan.stages.map((s) => ({ peerId: s.peerId, layers: [s.layers.start, s.layers.end] as const })),
                ready: coordinator.route() !== undefined,
              },
            }
          : {}),
        runsWhole: running.runsWhole,
      };
    }
    if (creating) return { status: 'creating', ...creating };
    if (failure !== undefined) return { status: 'failed', error: failure };
    if (request) return { status: 'requested', request };
    return { status: 'none' };
  };
  const changed = () => {
    document.documentElement.dataset.meshHead = current().status;
    for (const listener of listeners) listener();
  };

  const start = async (o: CreateOptions): Promise<void> => {
    const model = headModel(o.modelUrl);
    const relay = o.relay ?? request?.relay ?? (await relays())[0];
    if (!relay)
      throw new Error(
        'no Nostr relay is known to announce the mesh on: add one under Relays on Home, or add &relay=ws://host:port to the link (npm start -- --static-only runs one)',
      );
    const { identity } = await loadOrCreateIdentity(new IdbIdentityStore(await claimIdentitySlot()));
    const iceServers = o.iceServers ?? request?.iceServers ?? [];
    const invite = await createInvite({
      bootstrap: [`/p2p/${identity.peerId}`],
      relays: [relay],
      model: model.url,
      ...(iceServers.length > 0 ? { iceServers } : {}),
    });
    const app = new URL(location.href);
    const link = inviteLink(app.origin + app.pathname, encodeInvite(invite));
    // The head embeds, computes logits and tokenizes itself: only those tensors are read from the URL.
    const file = await openModelAt(model.url);
    const fallback = o.role === 'server' ? await loadWholeModel(model, identity.peerId) : undefined;
    const { startHeadPeer } = await import('./head-peer.ts');
    head = await startHeadPeer({
      identity,
      invite,
      role: o.role,
      memoryBudgetBytes: o.budgetBytes,
      model: { id: model.id, file, compute: await pageKernels() },
      ...(fallback ? { fallback } : {}),
      onChange: changed,
      log: (line) => console.info(line),
    });
    running = { model, role: o.role, link, runsWhole: fallback !== undefined };
    const api = head.api;
    // Stages reporting ready change the plan's readiness without a change of members or links.
    unlisten = [head.peer.meshLayer?.addGossipListener(() => changed()) ?? (() => {})];
    withdraw = deps.providers.registerFetch(
      MESH_HEAD_PROVIDER,
      {
        listModels: async () => api.provider.listModels(),
        fetch: (req) => handleApiRequest(req, api, { clientKey: 'page' }),
      },
      PROVIDER_PRIORITY.mesh,
    );
  };

  /** A server head's whole model in the inference worker: what it answers with while no plan is ready. */
  const loadWholeModel = async (model: HeadModel, peerId: string): Promise<ModelProvider> => {
    const engine = await WorkerEngine.create();
    fallbackEngine = engine;
    return WorkerProvider.load(engine, { id: model.id, url: model.url, ownedBy: 'mesh', peer: peerId });
  };

  const control: MeshHeadControl = {
    state: current,
    async create(o) {
      if (head || creating) throw new Error('this tab already heads a mesh: stop it first');
      failure = undefined;
      try {
        creating = { model: headModel(o.modelUrl), role: o.role };
        changed();
        await start(o);
      } catch (error) {
        failure = error instanceof Error ? error.message : String(error);
        await control.stop().catch(() => {});
        throw error;
      } finally {
        creating = undefined;
        changed();
      }
    },
    async stop() {
      withdraw?.();
      withdraw = undefined;
      for (const u of unlisten.splice(0)) u();
      const stopping = head;
      head = undefined;
      running = undefined;
      request = undefined;
      fallbackEngine?.terminate();
      fallbackEngine = undefined;
      await stopping?.stop();
      changed();
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  changed();
  if (request?.auto) {
    const r = request;
    control.create({ modelUrl: r.model.url, role: r.role, budgetBytes: r.budgetBytes ?? DEFAULT_BUDGET_BYTES }).catch(() => {}); // the failure is in state()
  }
  return control;
}

/** What the Create form starts from: the link's request, else a bundled model on this origin. */
export function createDefaults(state: MeshHeadState, origin: string): { modelUrl: string; role: PeerRole; budgetBytes: number } {
  const r = state.status === 'requested' ? state.request : undefined;
  return {
    modelUrl: r?.model.url ?? new URL('/models/tiny-llama-q8_0.gguf', origin).href,
    role: r?.role ?? 'server',
    budgetBytes: r?.budgetBytes ?? DEFAULT_BUDGET_BYTES,
  };
}

/**
 * The head's embedding and output head run on this page's main thread: the WASM kernels on one
 * thread (a page may not block on Atomics.wait, which their thread pool needs), else the reference
 * kernels. The output head is a vocabulary-wide matmul every token, several times faster on WASM.
 */
async function pageKernels(): Promise<ComputeOptions | undefined> {
  try {
    const { computeFor } = await import('../engine/backend.ts');
    return await computeFor('cpu', { threads: 1 });
  } catch (error) {
    console.warn(`the head's output layer runs on the reference kernels: ${(error as Error).message}`);
    return undefined;
  }
}
