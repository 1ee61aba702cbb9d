// A peer joining a private mesh from an invite: starts its libp2p node, dials the invite's
// bootstrap (the companion), proves membership to every peer it meets (mesh-node.ts), announces
// itself on the invite's Nostr relay and dials the members it reads there: through the companion's
// relay first, then (lower peer id dials, so two tabs do not race) a direct WebRTC link.
import { multiaddr } from '@multiformats/multiaddr';
import type { Relay } from 'nostr-tools/relay';
import type { PeerBackend, PeerRole } from '../../protocol/mesh-version.ts';
import type { HeldModel } from '../../protocol/mesh-announcement.ts';
import type { ValidAnnouncement } from '../announce.ts';
import { connectRelay, watchAnnouncements, type Watch } from '../discovery.ts';
import type { MeshIdentity } from '../identity.ts';
import type { Invite } from '../invite.ts';
import { openMesh } from '../mesh-keys.ts';
import { Announcer } from './announcer.ts';
import { linkType, type LinkType } from './link-type.ts';
import type { PrivateMesh } from './membership-stream.ts';
import { MeshNode, type MeshLibp2p, type RefusedPeer } from './mesh-node.ts';
import { createPeerLibp2p } from './peer-libp2p.ts';
import type { ComputeOptions, ModelFile } from '../../engine/model.ts';
import { StageServer, type StageState } from '../pipeline/stage-server.ts';
import { PlanWatch, type PlanView } from './plan-watch.ts';

export interface PeerNodeOptions {
  readonly identity: MeshIdentity;
  readonly invite: Invite;
  readonly role: PeerRole;
  readonly backend: PeerBackend;
  readonly memoryBudgetBytes: number;
  readonly layerTokensPerSecond?: number;
  readonly models?: readonly HeldModel[];
  /**
   * Servers only: how to open a model the head plans across the mesh (the page: Range reads of
   * <app>/models/<id>.gguf). Given, the peer follows the head's layer plans and runs its stage.
   */
  readonly openModel?: (model: string) => Promise<ModelFile>;
  /** The kernels its stage runs on (default: WASM CPU, see StageServer). */
  readonly compute?: ComputeOptions;
  /** Off in Node tests (no RTCPeerConnection). */
  readonly webrtc?: boolean;
  /** Extra listen addresses (Node peers: a WebSockets listener, for direct links between them). */
  readonly listen?: readonly string[];
  readonly onChange?: () => void;
  readonly log?: (line: string) => void;
}

export type PeerNodeStatus = 'starting' | 'joined' | 'failed' | 'stopped';

export interface PeerView {
  readonly peerId: string;
  readonly links: LinkType[];
  /** Proved membership to us, or vouched for by a member's gossip. */
  readonly member: boolean;
  /** Seen in a valid (decrypted) announcement on the mesh's Nostr relay. */
  readonly announced: boolean;
  readonly role?: PeerRole;
  readonly backend?: PeerBackend;
}

export interface MeshSnapshot {
  readonly status: PeerNodeStatus;
  readonly error?: string;
  readonly peerId: string;
  readonly meshId: string;
  readonly role: PeerRole;
  readonly multiaddrs: string[];
  readonly peers: PeerView[];
  readonly refused: RefusedPeer[];
  /** Every link type ever established (a WebRTC link may be replaced later; the test reports it). */
  readonly linkTypesSeen: LinkType[];
  /** This peer's pipeline stage (servers that run one). */
  readonly stage?: StageState;
  /** The latest layer plan the head (the invite's bootstrap) gossiped, with each stage's readiness. */
  readonly plan?: PlanView;
}

/** How many times a tab offers a WebRTC upgrade to one peer before living with the relayed link. */
const WEBRTC_OFFERS = 4;

export class PeerNode {
  private readonly o: PeerNodeOptions;
  private libp2p: MeshLibp2p | undefined;
  private meshNode: MeshNode | undefined;
  private relay: Relay | undefined;
  private watch: Watch | undefined;
  private announcer: Announcer | undefined;
  private stageServer: StageServer | undefined;
  private planWatch: PlanWatch | undefined;
  private mesh: PrivateMesh | undefined;
  private status: PeerNodeStatus = 'starting';
  private error: string | undefined;
  private readonly linkTypesSeen = new Set<LinkType>();
  /** WebRTC upgrade offers made per peer (a failed offer is retried a few times, spaced out). */
  private readonly webrtcAttempts = new Map<string, number>();

  constructor(options: PeerNodeOptions) {
    this.o = options;
  }

  get node(): MeshLibp2p | undefined {
    return this.libp2p;
  }

  async start(): Promise<void> {
    try {
      const mesh = await openMesh({ visibility: 'private', secret: this.o.invite.secret });
      if (mesh.visibility !== 'private') throw new Error('unreachable: an invite opens a private mesh');
      this.mesh = mesh;
      const libp2p = await createPeerLibp2p(this.o.identity, { webrtc: this.o.webrtc ?? true, ...(this.o.listen ? { listen: this.o.listen } : {}) });
      this.libp2p = libp2p;
      libp2p.addEventListener('connection:open', (event) => {
        this.linkTypesSeen.add(linkType(event.detail.remoteAddr.toString()));
        this.changed();
      });
      libp2p.addEventListener('self:peer:update', () => {
        void this.announcer?.refresh();
        this.changed();
      });
      this.meshNode = new MeshNode({
        libp2p,
        mesh,
        self: () => this.selfFacts(),
        onChange: () => this.changed(),
        ...(this.o.log ? { log: this.o.log } : {}),
      });
      await this.meshNode.start();
      // The head is the invite's bootstrap (the companion): its plans are the ones requests run on.
      const heads = new Set(this.o.invite.bootstrap.map((address) => address.split('/p2p/')[1]));
      const planWatch = new PlanWatch({ isHead: (peerId) => heads.has(peerId) });
      this.planWatch = planWatch;
      this.meshNode.addGossipListener((m) => {
        if (planWatch.onGossip(m)) this.changed();
      });
      if (this.o.openModel && this.o.role === 'server') {
        this.stageServer = new StageServer({
          node: this.meshNode,
          openModel: this.o.openModel,
          isHead: (peerId) => heads.has(peerId),
          ...(this.o.compute ? { compute: this.o.compute } : {}),
          onChange: () => this.changed(),
          ...(this.o.log ? { log: this.o.log } : {}),
        });
        await this.stageServer.start();
      }
      await Promise.all(this.o.invite.bootstrap.map((address) => libp2p.dial(multiaddr(address)).catch((e: unknown) => this.o.log?.(`mesh: bootstrap ${address} failed: ${(e as Error).message}`))));
      await this.startDiscovery(mesh);
      this.status = 'joined';
    } catch (error) {
      this.status = 'failed';
      this.error = error instanceof Error ? error.message : String(error);
      throw error;
    } finally {
      this.changed();
    }
  }

  private async startDiscovery(mesh: PrivateMesh): Promise<void> {
    const url = this.o.invite.relays[0];
    if (!url) return;
    this.relay = await connectRelay(url);
    this.watch = watchAnnouncements(this.relay, { mesh, onPeer: (a) => this.onAnnounced(a) });
    this.announcer = new Announcer({ relay: this.relay, identity: this.o.identity, mesh, facts: () => this.announcementFacts() });
    await this.announcer.start();
  }

  private onAnnounced(a: ValidAnnouncement): void {
    this.changed();
    const libp2p = this.libp2p;
    const peerId = a.body.peerId;
    if (!libp2p || peerId === libp2p.peerId.toString()) return;
    const addrs = a.body.multiaddrs;
    const direct = addrs.filter((s) => linkType(s) === 'websocket');
    const relayed = addrs.filter((s) => linkType(s) === 'relay');
    const webrtc = addrs.filter((s) => linkType(s) === 'webrtc');
    const connected = libp2p.getConnections().filter((c) => c.remotePeer.toString() === peerId);
    const dial = (address: string) => libp2p.dial(multiaddr(address)).then(() => true, (e: unknown) => {
      this.o.log?.(`mesh: dial ${address} failed: ${(e as Error).message}`);
      return false;
    });
    void (async () => {
      if (connected.length === 0) {
        for (const address of [...direct, ...relayed]) if (await dial(address)) break;
      }
      // Upgrade a relayed link to WebRTC; the lower peer id offers, so two tabs do not both try.
      if ((this.o.webrtc ?? true) && webrtc.length > 0 && libp2p.peerId.toString() < peerId && !this.webrtcAttempts.has(peerId)) {
        await this.offerWebRtc(peerId, webrtc, dial);
      }
    })();
  }

  /** An offer can fail on a busy machine (ICE or signalling timeout): try again, spaced out, a few times. */
  private async offerWebRtc(peerId: string, addresses: string[], dial: (address: string) => Promise<boolean>): Promise<void> {
    const attempts = (this.webrtcAttempts.get(peerId) ?? 0) + 1;
    this.webrtcAttempts.set(peerId, attempts);
    for (const address of addresses) if (await dial(address)) return;
    if (attempts < WEBRTC_OFFERS && this.status !== 'stopped') {
      setTimeout(() => {
        if (this.status !== 'stopped') void this.offerWebRtc(peerId, addresses, dial);
      }, 1500 * attempts);
    }
  }

  private selfFacts() {
    return {
      role: this.o.role,
      backend: this.o.backend,
      memoryBudgetBytes: this.o.memoryBudgetBytes,
      layerTokensPerSecond: this.o.layerTokensPerSecond ?? 0,
      models: [...(this.o.models ?? []), ...(this.stageServer?.held() ?? [])],
    };
  }

  private announcementFacts() {
    return { ...this.selfFacts(), multiaddrs: this.multiaddrs().slice(0, 16) };
  }

  private multiaddrs(): string[] {
    return (this.libp2p?.getMultiaddrs() ?? []).map(String);
  }

  snapshot(): MeshSnapshot {
    const self = this.libp2p?.peerId.toString() ?? this.o.identity.peerId;
    const members = new Map((this.meshNode?.memberList() ?? []).map((m) => [m.peerId, m]));
    const announced = new Map((this.watch?.table.list() ?? []).map((a) => [a.body.peerId, a]));
    const ids = [...new Set([...members.keys(), ...announced.keys()])].filter((id) => id !== self).sort();
    const peers = ids.map((peerId): PeerView => {
      const m = members.get(peerId);
      const a = announced.get(peerId);
      const role = m?.state?.role ?? a?.body.role;
      const backend = m?.state?.backend ?? a?.body.backend;
      return {
        peerId,
        links: this.meshNode?.linksTo(peerId) ?? [],
        member: m !== undefined,
        announced: a !== undefined,
        ...(role ? { role } : {}),
        ...(backend ? { backend } : {}),
      };
    });
    const stage = this.stageServer?.state();
    const plan = this.planWatch?.view(this.meshNode?.memberList() ?? [], {
      peerId: self,
      ...(stage?.status === 'ready' && stage.model && stage.layers ? { model: stage.model, ready: stage.layers } : {}),
    });
    return {
      status: this.status,
      ...(this.error ? { error: this.error } : {}),
      peerId: self,
      meshId: this.mesh?.meshId ?? this.o.invite.meshId,
      role: this.o.role,
      multiaddrs: this.multiaddrs(),
      peers,
      refused: this.meshNode?.refusedList() ?? [],
      linkTypesSeen: [...this.linkTypesSeen].sort(),
      ...(stage ? { stage } : {}),
      ...(plan ? { plan } : {}),
    };
  }

  async stop(): Promise<void> {
    this.status = 'stopped';
    this.stageServer?.stop();
    this.announcer?.stop();
    this.watch?.close();
    this.relay?.close();
    await this.meshNode?.stop();
    await this.libp2p?.stop();
    this.changed();
  }

  private changed(): void {
    this.o.onChange?.();
  }
}
