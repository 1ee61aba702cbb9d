// A peer joining a private mesh from an invite: starts its libp2p node, dials the invite's
// bootstrap (the companion), proves membership to every peer it meets (mesh-node.ts), announces
// itself on the invite's Nostr relay and dials the members it reads there: through the companion's
// relay first, then (lower peer id dials, so two tabs do not race) a direct WebRTC link.
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
import type { IceServer } from '../ice-servers.ts';
import { createPeerLibp2p, type PeerLibp2p, type PeerTransport } from './peer-libp2p.ts';
import { dialBootstrap } from './bootstrap-dial.ts';
import { PeerLinks } from './peer-links.ts';
import { HeadWatch } from './head-watch.ts';
import type { DropReason, SignalChannel } from './nostr-signal.ts';
import type { ComputeOptions, ModelFile } from '../../engine/model.ts';
import { StageServer, type StageState } from '../pipeline/stage-server.ts';
import type { StageBackendChoice, StageRunner } from '../pipeline/stage-runner.ts';
import { quantizeSpeed } from '../planner.ts';
import type { RttOptions } from './rtt-stream.ts';
import { checkPlan } from './plan-check.ts';
import { probeThroughPlan, type TokenLogprob } from '../pipeline/mesh-logprobs.ts';
import { modelMemory, type ModelMemory } from '../layer-memory.ts';
import type { LayerPlanMessage } from '../../protocol/mesh-messages.ts';
import { PlanWatch, type PlanView } from './plan-watch.ts';
import type { OpenMeshKeys } from './open-mesh.ts';
import { meshApiFetch } from './api-stream.ts';
import { API_PROTOCOL } from './protocols.ts';
import { MeshError } from '../../protocol/errors.ts';
import { memberAccess } from './member-access.ts';
import { sharedOpener } from './model-files.ts';

export interface PeerNodeOptions {
  readonly identity: MeshIdentity;
  readonly invite: Invite;
  /**
   * This peer heads the mesh (a tab that made it): the plans it follows are its own, it measures no
   * round trip, and the invite's bootstrap names it only by peer id (`/p2p/<id>`, nothing to dial).
   */
  readonly head?: boolean;
  /** A public or named mesh (open-mesh.ts resolveOpenMesh): its keys replace the invite's secret, its announcements are in clear. */
  readonly open?: OpenMeshKeys;
  readonly role: PeerRole;
  readonly backend: PeerBackend;
  readonly memoryBudgetBytes: number;
  /** Layer speed to gossip; measured on the stage once it loaded (layer-speed.ts) when not given. */
  readonly layerTokensPerSecond?: number;
  readonly models?: readonly HeldModel[];
  /**
   * Servers only: how to open a model the head plans across the mesh (the page: Range reads of
   * <app>/models/<id>.gguf). Given, the peer follows the head's layer plans and runs its stage.
   */
  readonly openModel?: (model: string) => Promise<ModelFile>;
  /** The kernels its stage runs on in this process (default: WASM CPU, see StageServer); ignored with stageRunner. */
  readonly compute?: ComputeOptions;
  /** Where its stage runs (a tab: the inference worker, worker-stage-runner.ts); default: in this process. */
  readonly stageRunner?: StageRunner;
  /** The backend its stage is asked to run on (default 'wasm'); `backend` is announced until one is loaded. */
  readonly stageBackend?: StageBackendChoice;
  /** Off in Node tests (no RTCPeerConnection). */
  readonly webrtc?: boolean;
  /** Node tests: node-datachannel's RTCPeerConnection, for links signalled over Nostr (nostr-webrtc.ts). */
  readonly peerConnection?: typeof RTCPeerConnection;
  /** STUN/TURN servers for WebRTC links (ice-servers.ts); default: the ones the invite names. */
  readonly iceServers?: readonly IceServer[];
  /** Extra listen addresses (Node peers: a WebSockets or QUIC listener, for direct links between them). */
  readonly listen?: readonly string[];
  /** Dial these instead of the listen addresses (see peer-libp2p.ts). */
  readonly announce?: readonly string[];
  /** More libp2p transports (native peers: QUIC, src/companion/native-transports.ts), preferred where offered. */
  readonly transports?: readonly PeerTransport[];
  /** How the round trip to the head is measured (tests add latency to simulate a slow link). */
  readonly rtt?: RttOptions;
  readonly onChange?: () => void;
  /** The head rotated the mesh's secret and kept this peer: the new mesh's invite (rekey.ts), to join it with. */
  readonly onRekey?: (invite: Invite) => void;
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
  /** The head this tab follows (the invite's bootstrap: the companion). */
  readonly companion: boolean;
  /** The peer's gossiped round trip to the head, in ms (0 for the head itself); absent until gossiped. */
  readonly rttMs?: number;
  /** The peer's gossiped layer speed (decode tokens/s through one layer); absent or 0 until measured. */
  readonly layerTokensPerSecond?: number;
}

export interface MeshSnapshot {
  readonly status: PeerNodeStatus;
  readonly error?: string;
  readonly peerId: string;
  /** The Nostr key this peer announces and receives WebRTC signals under (bound to its peer id). */
  readonly nostrPubkey: string;
  readonly meshId: string;
  readonly role: PeerRole;
  /** What this peer announces it runs on: its stage's backend once one is loaded. */
  readonly backend: PeerBackend;
  /** This peer's measured round trip to the head (ms), as it gossips it; absent until measured. */
  readonly rttMs?: number;
  /** This peer's measured layer speed (decode tokens/s through one layer); absent until measured. */
  readonly layerTokensPerSecond?: number;
  readonly multiaddrs: string[];
  readonly peers: PeerView[];
  readonly refused: RefusedPeer[];
  /** WebRTC signals from the relay this peer dropped, by reason (forged, replayed, stale, not for it: nostr-signal.ts). */
  readonly signalsDropped: Partial<Record<DropReason, number>>;
  /** Every link type ever established (a WebRTC link may be replaced later; the test reports it). */
  readonly linkTypesSeen: LinkType[];
  /** This peer's pipeline stage (servers that run one). */
  readonly stage?: StageState;
  /** The latest layer plan the head (the invite's bootstrap) gossiped, with each stage's readiness. */
  readonly plan?: PlanView;
  /** The head's latest plan gave this peer a share it refused: the plan failed its check (net/plan-check.ts). */
  readonly planRefused?: { readonly epoch: number; readonly reason: string };
  /** The mesh's head (a tab) left: no request reaches the mesh, this peer's share is unloaded (also in `error`). */
  readonly headLeft?: string;
  /** The mesh's head is a tab (the invite names it by bare peer id), not a companion. */
  readonly headIsTab: boolean;
}

export class PeerNode {
  private readonly o: PeerNodeOptions;
  private libp2p: PeerLibp2p | undefined;
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
  private links: PeerLinks | undefined;
  private signals: SignalChannel | undefined;
  /** The invite's bootstrap peers: the head whose plans this peer follows. */
  private readonly heads: Set<string>;
  /** The model files this peer opened, shared by its stage, its plan checks and its speed measurement. */
  private readonly openModel: (model: string) => Promise<ModelFile>;
  /** Layer speed measured on the loaded stage, by model. */
  private readonly speeds = new Map<string, number>();
  private measuringSpeed = false;
  /** Plans from the head are checked one at a time, in the order they came. */
  private planQueue: Promise<void> = Promise.resolve();
  private readonly memories = new Map<string, Promise<ModelMemory>>();
  private planRefused: { epoch: number; reason: string } | undefined;
  /** A head tab's presence: linked once, then out of reach since `goneTimer` started, then `left`. */
  private headWatch: HeadWatch | undefined;

  constructor(options: PeerNodeOptions) {
    this.o = options;
    this.openModel = sharedOpener(options.openModel);
    this.heads = options.head
      ? new Set([options.identity.peerId])
      : new Set(options.invite.bootstrap.map((address) => address.split('/p2p/')[1]).filter((id): id is string => Boolean(id)));
  }

  /** The mesh layer on this peer's libp2p node (a head tab runs its coordinator and API on it); undefined until started. */
  get meshLayer(): MeshNode | undefined {
    return this.meshNode;
  }

  get node(): MeshLibp2p | undefined {
    return this.libp2p;
  }

  async start(): Promise<void> {
    try {
      const mesh = this.o.open?.membership ?? (await openMesh({ visibility: 'private', secret: this.o.invite.secret }));
      if (mesh.visibility !== 'private') throw new Error('unreachable: an invite opens a private mesh');
      this.mesh = mesh;
      const libp2p = await createPeerLibp2p(this.o.identity, {
        webrtc: this.o.webrtc ?? true,
        ...(this.o.listen ? { listen: this.o.listen } : {}),
        ...(this.o.announce ? { announce: this.o.announce } : {}),
        ...(this.o.transports ? { transports: this.o.transports } : {}),
        ...(this.o.peerConnection ? { peerConnection: this.o.peerConnection } : {}),
        iceServers: [...(this.o.iceServers ?? this.o.invite.iceServers ?? [])],
      });
      this.libp2p = libp2p;
      libp2p.addEventListener('connection:open', (event) => {
        this.linkTypesSeen.add(linkType(event.detail.remoteAddr.toString()));
        this.changed();
      });
      this.links = new PeerLinks({
        libp2p,
        webrtc: (this.o.webrtc ?? true) || this.o.peerConnection !== undefined,
        stopped: () => this.status === 'stopped',
        ...(this.o.log ? { log: this.o.log } : {}),
      });
      libp2p.addEventListener('self:peer:update', () => {
        void this.announcer?.refresh();
        this.changed();
      });
      const access = memberAccess(this.o.invite, mesh.meshId);
      this.meshNode = new MeshNode({
        libp2p,
        mesh,
        ...access.nodeOptions,
        self: () => this.selfFacts(),
        // The round trip that matters is to the head (the one planning); a mesh without one measures none.
        ...(this.heads.size > 0 && !this.o.head ? { rttTargets: () => [...this.heads] } : {}),
        ...(this.o.rtt ? { rtt: this.o.rtt } : {}),
        onChange: () => this.changed(),
        ...(this.o.log ? { log: this.o.log } : {}),
      });
      await this.meshNode.start();
      // The head is the invite's bootstrap (the companion): its plans are the ones requests run on.
      const heads = this.heads;
      const planWatch = new PlanWatch({ isHead: (peerId) => heads.has(peerId) });
      await access.attach(this.meshNode, (peerId) => heads.has(peerId), this.o.onRekey);
      this.planWatch = planWatch;
      this.meshNode.addGossipListener((m) => {
        if (planWatch.onGossip(m)) this.changed();
        if (m.type === 'layer-plan' && heads.has(m.peerId)) this.onPlan(m);
      });
      if (this.o.openModel && this.o.role === 'server') {
        this.stageServer = new StageServer({
          node: this.meshNode,
          openModel: (model) => this.openModel(model),
          // Plans reach the stage through onPlan, once checked, never straight from gossip.
          isHead: () => false,
          ...(this.o.compute ? { compute: this.o.compute } : {}),
          ...(this.o.stageRunner ? { runner: this.o.stageRunner } : {}),
          ...(this.o.stageBackend ? { backend: this.o.stageBackend } : {}),
          onChange: () => this.changed(),
          ...(this.o.log ? { log: this.o.log } : {}),
        });
        await this.stageServer.start();
      }
      // A bare `/p2p/<id>` (a head tab) has nothing to dial: the link to it is made from its announcement.
      await dialBootstrap(
        libp2p,
        this.o.invite.bootstrap.filter((address) => !address.startsWith('/p2p/')),
        this.o.log,
      );
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
    // Offers from members (a mesh of tabs has no relay node to signal WebRTC over) are answered from now on.
    this.signals = this.libp2p?.services.rtc?.attach({ relay: this.relay, identity: this.o.identity, mesh, ...(this.o.log ? { log: this.o.log } : {}) });
    const access = this.o.open?.access ?? mesh;
    this.watch = watchAnnouncements(this.relay, { mesh: access, onPeer: (a) => this.onAnnounced(a) });
    this.announcer = new Announcer({ relay: this.relay, identity: this.o.identity, mesh: access, facts: () => this.announcementFacts() });
    await this.announcer.start();
  }

  private onAnnounced(a: ValidAnnouncement): void {
    this.changed();
    this.links?.announced(a);
  }

  /**
   * Teacher-forced top-K log-probs of `tokens` through the head's current plan (this peer embeds and
   * computes logits, the plan's stages run the layers): for parity checks of a split (the mesh spec).
   */
  async teacherForced(tokens: readonly number[], topK = 5): Promise<TokenLogprob[][]> {
    const plan = this.planWatch?.latest();
    const node = this.meshNode;
    if (!node || !plan) throw new Error('no plan from the head yet: wait until the dashboard shows one');
    return probeThroughPlan({ node, plan, tokens, topK, openFile: (model) => this.openModel(model), ...(this.o.log ? { log: this.o.log } : {}) });
  }

  /**
   * Sends a /v1 request to the mesh's head (the invite's bootstrap) over API_PROTOCOL and resolves
   * with its streamed answer (api-stream.ts). Rejects with a MeshError while no head is linked.
   */
  async fetchApi(request: Request): Promise<Response> {
    const node = this.meshNode;
    if (!node || this.status !== 'joined') throw new MeshError('mesh_not_joined', 'this tab is not in a mesh yet: wait until it has joined, then retry');
    const head = [...this.heads].find((peerId) => node.isMember(peerId) && node.linksTo(peerId).length > 0);
    if (this.headWatch?.left) throw new MeshError('mesh_head_left', this.headWatch?.left);
    if (!head)
      throw new MeshError(
        'mesh_head_unreachable',
        this.headIsTab()
          ? "no link to the mesh's head (the tab that made it) right now: it may have closed; retry in a few seconds"
          : "no link to the mesh's head (the companion) right now; it may be restarting: retry in a few seconds",
      );
    // A direct link: a relayed one is capped (2 min / 128 KiB), which a long answer would outlive.
    return meshApiFetch((signal) => node.openStream(head, API_PROTOCOL, signal, { direct: true }), request);
  }

  /** A plan from the head: when it gives this peer a share, check it (plan-check.ts) before loading. */
  private onPlan(m: LayerPlanMessage): void {
    const server = this.stageServer;
    const self = this.meshNode?.selfPeerId;
    if (!server || !self || !m.plan.stages.some((s) => s.peerId === self)) return;
    this.planQueue = this.planQueue.then(async () => {
      let reason: string | undefined;
      try {
        let memory = this.memories.get(m.plan.model);
        if (!memory) this.memories.set(m.plan.model, (memory = this.openModel(m.plan.model).then((f) => modelMemory(f.header))));
        const check = checkPlan(m.plan, m.basis, self, this.meshNode?.recentStates() ?? [], await memory);
        if (!check.ok) reason = check.reason;
      } catch (error) {
        this.memories.delete(m.plan.model);
        reason = `the model could not be read to check the plan: ${(error as Error).message}`;
      }
      if (reason === undefined) {
        this.planRefused = undefined;
        server.follow(m.plan);
        return;
      }
      if (this.planRefused?.reason !== reason) this.o.log?.(`pipeline: refused my share of plan ${m.plan.epoch} for ${m.plan.model}: ${reason}`);
      this.planRefused = { epoch: m.plan.epoch, reason };
      this.changed();
    });
  }

  /** Once a stage is loaded, measures its layer speed (once per model) and gossips it. */
  private measureSpeedOnce(): void {
    const stage = this.stageServer?.state();
    if (this.o.layerTokensPerSecond !== undefined || this.measuringSpeed || stage?.status !== 'ready' || !stage.model || !stage.layers) return;
    const { model, layers } = stage;
    if (this.speeds.has(model)) return;
    this.measuringSpeed = true;
    void (async () => {
      try {
        const measured = await this.stageServer?.measureSpeed();
        if (!measured || measured.model !== model) throw new Error(`the stage of ${model} was unloaded before its speed was measured`);
        const speed = quantizeSpeed(measured.speed);
        this.speeds.set(model, speed);
        this.o.log?.(
          `mesh: layer speed of ${model} layers ${layers.start}-${layers.end - 1} on ${stage.backend ?? 'its backend'}: ${speed} tokens/s per layer`,
        );
        this.changed();
        await this.meshNode?.publishState();
      } catch (error) {
        this.speeds.set(model, 0);
        this.o.log?.(`mesh: measuring the layer speed of ${model} failed: ${(error as Error).message}`);
      } finally {
        this.measuringSpeed = false;
      }
    })();
  }

  /** The speed gossiped: given, else the one measured on the model this peer's stage runs (0: not yet). */
  private layerSpeed(): number {
    if (this.o.layerTokensPerSecond !== undefined) return this.o.layerTokensPerSecond;
    const model = this.stageServer?.state().model;
    return (model && this.speeds.get(model)) || 0;
  }

  /** What this peer runs on: its loaded stage's backend once it has one (the reference kernels are a CPU one too). */
  private backend(): PeerBackend {
    const running = this.stageServer?.state().backend;
    return running === undefined ? this.o.backend : running === 'webgpu' ? 'webgpu' : 'wasm';
  }

  private selfFacts() {
    return {
      role: this.o.role,
      backend: this.backend(),
      memoryBudgetBytes: this.o.memoryBudgetBytes,
      layerTokensPerSecond: this.layerSpeed(),
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
      const speed = m?.state?.layerTokensPerSecond ?? a?.body.layerTokensPerSecond;
      return {
        peerId,
        links: this.meshNode?.linksTo(peerId) ?? [],
        member: m !== undefined,
        announced: a !== undefined,
        ...(role ? { role } : {}),
        ...(backend ? { backend } : {}),
        companion: this.heads.has(peerId),
        ...(m?.state ? { rttMs: m.state.rttMs } : {}),
        ...(speed !== undefined ? { layerTokensPerSecond: speed } : {}),
      };
    });
    const stage = this.stageServer?.state();
    const plan = this.planWatch?.view(this.meshNode?.memberList() ?? [], {
      peerId: self,
      ...(stage?.status === 'ready' && stage.model && stage.layers ? { model: stage.model, ready: stage.layers, backend: this.backend() } : {}),
    });
    const left = this.headWatch?.left;
    return {
      status: this.status,
      ...(this.error || left ? { error: this.error ?? left } : {}),
      ...(left ? { headLeft: left } : {}),
      headIsTab: this.headIsTab(),
      peerId: self,
      nostrPubkey: this.o.identity.nostrPubkey,
      meshId: this.mesh?.meshId ?? this.o.invite.meshId,
      role: this.o.role,
      backend: this.backend(),
      ...(this.meshNode?.rttMs !== undefined ? { rttMs: this.meshNode.rttMs } : {}),
      ...(this.layerSpeed() > 0 ? { layerTokensPerSecond: this.layerSpeed() } : {}),
      multiaddrs: this.multiaddrs(),
      peers,
      refused: this.meshNode?.refusedList() ?? [],
      signalsDropped: this.signals?.dropped() ?? {},
      linkTypesSeen: [...this.linkTypesSeen].sort(),
      ...(stage ? { stage } : {}),
      ...(plan ? { plan } : {}),
      ...(this.planRefused ? { planRefused: this.planRefused } : {}),
    };
  }

  async stop(): Promise<void> {
    this.status = 'stopped';
    this.headWatch?.stop();
    this.stageServer?.stop();
    this.libp2p?.services.rtc?.detach();
    this.announcer?.stop();
    this.watch?.close();
    this.relay?.close();
    await this.meshNode?.stop();
    await this.libp2p?.stop();
    this.changed();
  }

  private changed(): void {
    this.measureSpeedOnce();
    this.watchHead();
    this.o.onChange?.();
  }

  private headIsTab(): boolean {
    const { bootstrap } = this.o.invite;
    return this.o.head === true || (bootstrap.length > 0 && bootstrap.every((a) => a.startsWith('/p2p/')));
  }

  /** A head tab's members watch it (head-watch.ts); a companion's do not: it restarts and comes back. */
  private watchHead(): void {
    const node = this.meshNode;
    if (this.o.head || !node || this.status !== 'joined' || !this.headIsTab()) return;
    this.headWatch ??= new HeadWatch({
      linked: () => [...this.heads].some((peerId) => node.linksTo(peerId).length > 0),
      onLeft: (reason) => {
        this.o.log?.(`mesh: ${reason}`);
        this.stageServer?.unload();
        this.changed();
      },
      onBack: () => this.o.onChange?.(),
    });
    this.headWatch.check();
  }
}
