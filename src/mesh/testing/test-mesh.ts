// A whole mesh in one Node process, for the pipeline's tests and `npm run bench:mesh`: a local Nostr
// relay, the companion's libp2p node and mesh membership, a coordinator planning one model, and
// server peers joining from the companion's invite (WebSockets links: Node has no WebRTC).
import { startLibp2pNode, webSocketAddress, type CompanionLibp2p } from '../../companion/libp2p-node.ts';
import { quicAddress, webTransportAddress } from '../../companion/native-transports.ts';
import { startNostrRelay, type RunningNostrRelay } from '../../companion/nostr-relay.ts';
import type { ComputeOptions, ModelFile } from '../../engine/model.ts';
import { openStage } from '../../engine/stage.ts';
import { openTail } from '../../engine/tail.ts';
import { createIdentity } from '../identity.ts';
import { decodeInvite, type Invite } from '../invite.ts';
import { modelMemory } from '../layer-memory.ts';
import { startCompanionMesh, type CompanionMesh } from '../net/companion-mesh.ts';
import { PeerNode, type PeerNodeOptions } from '../net/peer-node.ts';
import { PipelineCoordinator, type CoordinatorOptions } from '../pipeline/coordinator.ts';
import type { Route } from '../pipeline/coordinator.ts';

export interface TestMesh {
  readonly nostr: RunningNostrRelay;
  readonly libp2p: CompanionLibp2p;
  readonly companion: CompanionMesh;
  readonly invite: Invite;
  stop(): Promise<void>;
}

/** `quic`: the companion listens on QUIC too and its invite carries that address (native peers' links). */
/** `dialAt`: the address the invite gives instead of the companion's own (a delaying forwarder's, given the real one). */
/** `webTransport`: the companion serves WebTransport too and its invite carries that address (tabs' links). */
export async function startTestMesh(o: { quic?: boolean; webTransport?: boolean; dialAt?: (address: string) => Promise<string> } = {}): Promise<TestMesh> {
  const nostr = await startNostrRelay({ host: '127.0.0.1', port: 0 });
  const identity = await createIdentity();
  const libp2p = await startLibp2pNode({
    host: '127.0.0.1',
    port: 0,
    keyDir: null,
    privateKey: identity.libp2pKey,
    ...(o.quic ? { quicPort: 0 } : {}),
    ...(o.webTransport ? { webTransportPort: 0 } : {}),
  });
  const quic = o.quic ? quicAddress(libp2p) : undefined;
  const companion = await startCompanionMesh({
    libp2p,
    identity,
    cacheDir: null,
    appUrl: 'http://127.0.0.1:8080/',
    nostrUrl: `ws://127.0.0.1:${nostr.port}`,
    libp2pAddress: o.dialAt ? await o.dialAt(webSocketAddress(libp2p)) : webSocketAddress(libp2p),
    ...(quic ? { quicAddress: quic } : {}),
    ...(o.webTransport ? { webTransportAddress: () => webTransportAddress(libp2p) } : {}),
  });
  const invite = await decodeInvite(companion.token);
  return {
    nostr,
    libp2p,
    companion,
    invite,
    async stop() {
      await companion.stop();
      await libp2p.stop();
      await nostr.stop();
    },
  };
}

/** A coordinator for `file` on the companion, republishing its plan often so joiners hear it fast. */
export function startCoordinator(mesh: TestMesh, id: string, file: ModelFile, more: Partial<CoordinatorOptions> = {}): PipelineCoordinator {
  const coordinator = new PipelineCoordinator({ node: mesh.companion.node, model: { id, memory: modelMemory(file.header) }, republishMs: 500, ...more });
  coordinator.start();
  return coordinator;
}

/** A budget that holds `layers` of the model's largest layer, and not one more. */
export function budgetFor(file: ModelFile, layers: number): number {
  return Math.floor(Math.max(...modelMemory(file.header).layerBytes) * (layers + 0.5));
}

/**
 * A server peer joined from the mesh's invite. It listens on WebSockets of its own (Node has no
 * WebRTC, and chained stages need direct links) unless `listen` is false: then its links to other
 * peers that do not listen either are relayed through the companion.
 */
export async function startServerPeer(
  mesh: Pick<TestMesh, 'invite'>,
  openModel: (model: string) => Promise<ModelFile>,
  memoryBudgetBytes: number,
  compute?: ComputeOptions,
  listen = true,
  more: Partial<PeerNodeOptions> = {},
): Promise<PeerNode> {
  const peer = new PeerNode({
    identity: await createIdentity(),
    invite: mesh.invite,
    role: 'server',
    backend: 'wasm',
    webrtc: false,
    listen: listen ? ['/ip4/127.0.0.1/tcp/0/ws'] : [],
    memoryBudgetBytes,
    openModel,
    ...(compute ? { compute } : {}),
    ...more,
  });
  await peer.start();
  return peer;
}

export async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 20_000, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Waits for a ready plan of exactly `stages` stages. */
export function routeOf(coordinator: PipelineCoordinator, stages: number, timeoutMs = 20_000): Promise<Route> {
  return until(
    `a ready ${stages}-stage plan`,
    () => {
      const r = coordinator.route();
      return r && r.plan.stages.length === stages ? r : undefined;
    },
    timeoutMs,
    5,
  );
}

/** Reference kernels whose stage sessions hang, without closing anything, while `stalled()` is true. */
export function stallingCompute(stalled: () => boolean): ComputeOptions {
  return {
    stages: {
      name: 'stallable',
      async openStage(model, first, end) {
        const stage = await openStage(model, first, end);
        return {
          first,
          end,
          createSession(o) {
            const s = stage.createSession(o);
            return {
              get length() {
                return s.length;
              },
              truncate: (n) => s.truncate(n),
              free: () => s.free(),
              async extend(hidden, n) {
                if (stalled()) await new Promise(() => {});
                return s.extend(hidden, n);
              },
            };
          },
        };
      },
      openTail: (model) => openTail(model),
    },
  };
}
