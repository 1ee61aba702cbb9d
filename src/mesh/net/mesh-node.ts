// The mesh on top of any libp2p node (a tab's or the companion's): checks every new peer's
// membership on a dedicated stream and hangs up on those who fail, and gossips peer state on the
// mesh's topic, accepting only messages forwarded by verified members and passing J's validators.
// A server measures its round trip to the head (rtt-stream.ts) before it first gossips its state,
// and again every few state ticks, so planners compare a real number to their cap. A member that
// has just joined the topic is greeted: this node gossips its state again at once, and join
// listeners (the head's coordinator) re-gossip what it missed, rather than leave it to the next tick.
// A component with start()/stop(); the libp2p node itself is owned by whoever created it.
import type { GossipSub, Message, SubscriptionChangeData } from '@libp2p/gossipsub';
import { TopicValidatorResult } from '@libp2p/gossipsub';
import type { Connection, Libp2p, PeerId, StreamHandler, StreamHandlerOptions } from '@libp2p/interface';
import type { HeldModel } from '../../protocol/mesh-announcement.ts';
import type { GossipMessage, PeerStateMessage } from '../../protocol/mesh-messages.ts';
import { MESH_PROTOCOL_VERSION, type PeerBackend, type PeerRole } from '../../protocol/mesh-version.ts';
import { decodeGossip, encodeGossip, SequenceFilter } from '../gossip-messages.ts';
import { quantizeRtt, quantizeSpeed } from '../planner.ts';
import { linkType, type LinkType } from './link-type.ts';
import { answerChallenge, challengePeer, CREDENTIAL_REFUSED, type Admission, type MembershipOutcome, type PrivateMesh } from './membership-stream.ts';
import { MEMBERSHIP_PROTOCOL, meshTopic, RTT_PROTOCOL } from './protocols.ts';
import { echoPings, measureLink, type RttOptions } from './rtt-stream.ts';

/** Membership challenges a peer gets while it only times out (each MEMBERSHIP_TIMEOUT_MS long). */
const MEMBERSHIP_ATTEMPTS = 3;

/** Refused peers remembered at most (a forgotten one is refused again by its proof on its next connection). */
export const MAX_REFUSED = 1024;

/** Tries at the first round trip to a head that just proved membership, 300 ms apart (a state is gossiped only once one succeeds). */
const RTT_FIRST_TRIES = 6;

/** Measurements the gossiped round trip is the smallest of (every 2 ticks: about 30 s of them). */
const RTT_WINDOW = 3;

/**
 * A round trip at least this long, on a first measurement or at least twice the window's best, is
 * measured again RTT_RECHECKS times a second apart and the best kept: a page loading its weights,
 * or three browsers starting at once on two cores, answers echoes hundreds of ms late for a moment,
 * and gossiped, that moment left the tab above the planner's cap until the next round, 10 s later.
 */
export const RTT_RECHECK_MS = 100;
const RTT_RECHECKS = 2;
const RTT_RECHECK_GAP_MS = 1000;

export type MeshLibp2p = Libp2p<{ pubsub: GossipSub }>;

export interface SelfFacts {
  readonly role: PeerRole;
  readonly backend: PeerBackend;
  readonly memoryBudgetBytes: number;
  readonly layerTokensPerSecond: number;
  readonly models: readonly HeldModel[];
}

export interface MeshNodeOptions {
  readonly libp2p: MeshLibp2p;
  /** How long one membership challenge waits for the answer (default MEMBERSHIP_TIMEOUT_MS). */
  readonly membershipTimeoutMs?: number;
  readonly mesh: PrivateMesh;
  readonly self: () => SelfFacts;
  /** How often peer state is gossiped (also right after a member joins). */
  readonly stateIntervalMs?: number;
  /**
   * The peers whose round trip this one measures and gossips (a server: the head). Given, the
   * state is first gossiped once one of them is measured, so no plan counts an unmeasured peer.
   */
  readonly rttTargets?: () => readonly string[];
  readonly rtt?: RttOptions;
  /** Re-measure the round trip every this many state ticks (default 2: every 10 s). */
  readonly rttEveryTicks?: number;
  /** The member credential this peer shows after its proof (credentials.ts; from its invite). */
  readonly credential?: unknown;
  /** What it asks of others besides the proof: a credential from the head, not revoked (revocation.ts). */
  readonly admission?: Admission;
  /** Called whenever members, links or gossiped state change. */
  readonly onChange?: () => void;
  readonly log?: (line: string) => void;
}

/** A gossip message as its sender writes it: the envelope (protocol, peerId, seq, sentAt) is added on publish. */
export type GossipBody = GossipMessage extends infer M ? (M extends GossipMessage ? Omit<M, 'protocol' | 'peerId' | 'seq' | 'sentAt'> : never) : never;

export interface MemberView {
  readonly peerId: string;
  /** Kinds of the open connections to it (empty: known but disconnected). */
  readonly links: LinkType[];
  readonly state?: PeerStateMessage;
}

export interface RefusedPeer {
  readonly peerId: string;
  readonly reason: string;
}

/**
 * A refusal a peer can mend does not shut it out: its next connection is checked again. That is a
 * credential refused for any reason but a revocation (none, an expired or a foreign one: a new invite
 * fixes it), and a wrong proof from a member of the mesh before the head rotated its secret (for a
 * moment it still proves the old one, before it joins the new mesh with the invite it was handed). A
 * stranger's wrong proof and a revocation shut the peer out (while it is remembered).
 */
function curable(reason: string, formerMember: boolean): boolean {
  if (/revoked/.test(reason)) return false;
  return reason.startsWith(CREDENTIAL_REFUSED) || formerMember;
}

export class MeshNode {
  private readonly o: MeshNodeOptions;
  private readonly members = new Map<string, { state?: PeerStateMessage }>();
  private readonly refused = new Map<string, { reason: string; final: boolean }>();
  private readonly pending = new Map<string, Promise<void>>();
  private readonly sequences = new SequenceFilter();
  /** The mesh membership is proved on, and its gossip topic: a head's secret rotation switches both (switchMesh). */
  private mesh: PrivateMesh;
  private topic: string;
  /** Counts switches: a membership check that started on the mesh before one has no verdict. */
  private generation = 0;
  /** Members before the last switch that have not proved the new mesh yet (their wrong proofs are curable). */
  private readonly formerMembers = new Set<string>();
  /**
   * Starts at the clock, not 0: a tab that reloads keeps its peer id, and members drop gossip whose
   * seq is not above the last they saw from it (SequenceFilter), which for a count restarted at 0
   * silenced the reloaded tab (its state, its stage-ready) for as many messages as it sent before.
   */
  private seq = Date.now();
  private ticks = 0;
  /** Round trip to the targets (the slowest of them), quantized; undefined until measured. */
  private rtt: number | undefined;
  /** The last few measurements: the gossiped round trip is their smallest, so a busy spell (a flood, a page loading) does not drop a peer from plans. */
  private readonly rttWindow: number[] = [];
  /** Throughput to the targets (the slowest of them, bytes/s, quantized): the fastest of the last few measurements; undefined until measured. */
  private linkRate: number | undefined;
  private readonly rateWindow: number[] = [];
  /** This node's last few gossiped states (a plan may have been computed from any of them). */
  private readonly published: PeerStateMessage[] = [];
  private measuring: Promise<void> | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private running = false;
  private readonly gossipListeners = new Set<(message: GossipMessage) => void>();
  private readonly changeListeners = new Set<() => void>();
  private readonly joinListeners = new Set<(peerId: string) => void>();
  /** Protocols registered through handleForMembers: unregistered on stop. */
  private readonly memberProtocols = new Set<string>();

  constructor(options: MeshNodeOptions) {
    this.o = options;
    this.mesh = options.mesh;
    this.topic = meshTopic(options.mesh.meshId);
  }

  get selfPeerId(): string {
    return this.o.libp2p.peerId.toString();
  }

  async start(): Promise<void> {
    const { libp2p } = this.o;
    this.running = true;
    await libp2p.handle(
      MEMBERSHIP_PROTOCOL,
      (stream, connection) => answerChallenge(stream, connection, this.mesh, this.selfPeerId, undefined, this.o.credential),
      {
        runOnLimitedConnection: true,
      },
    );
    libp2p.addEventListener('connection:open', this.onConnectionOpen);
    libp2p.addEventListener('connection:close', this.onConnectionClose);
    const pubsub = libp2p.services.pubsub;
    pubsub.topicValidators.set(this.topic, this.validate);
    pubsub.addEventListener('message', this.onMessage);
    pubsub.addEventListener('subscription-change', this.onSubscriptionChange);
    pubsub.subscribe(this.topic);
    await this.handleForMembers(RTT_PROTOCOL, (stream) => echoPings(stream), { runOnLimitedConnection: true });
    for (const connection of libp2p.getConnections()) this.onConnection(connection);
    this.timer = setInterval(
      () => void this.tick().catch((error: unknown) => this.o.log?.(`mesh: gossiping this peer's state failed: ${(error as Error).message}`)),
      this.o.stateIntervalMs ?? 5000,
    );
  }

  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.timer);
    const { libp2p } = this.o;
    libp2p.removeEventListener('connection:open', this.onConnectionOpen);
    libp2p.removeEventListener('connection:close', this.onConnectionClose);
    const pubsub = libp2p.services.pubsub;
    pubsub.removeEventListener('message', this.onMessage);
    pubsub.removeEventListener('subscription-change', this.onSubscriptionChange);
    pubsub.topicValidators.delete(this.topic);
    if (pubsub.getTopics().includes(this.topic)) pubsub.unsubscribe(this.topic);
    await libp2p.unhandle(MEMBERSHIP_PROTOCOL).catch(() => {});
    for (const protocol of this.memberProtocols) await libp2p.unhandle(protocol).catch(() => {});
    this.memberProtocols.clear();
  }

  /** This peer's gossiped link throughput to its targets (bytes/s, quantized): undefined until measured on a direct link. */
  get linkBytesPerSecond(): number | undefined {
    return this.linkRate;
  }

  /** This peer's gossiped round trip (ms, quantized): undefined until measured, 0 for a peer that measures none. */
  get rttMs(): number | undefined {
    return this.o.rttTargets ? this.rtt : 0;
  }

  recentStates(): readonly PeerStateMessage[] {
    return this.published;
  }

  private async tick(): Promise<void> {
    // Until a first measurement succeeds (no state is gossiped before it), try on every tick.
    if (++this.ticks % (this.o.rttEveryTicks ?? 2) === 0 || (this.o.rttTargets && this.rtt === undefined)) await this.measureRtt();
    await this.publishState();
  }

  /** Measures the round trip to every linked target (one measurement at a time); keeps the last value on failure. */
  measureRtt(): Promise<void> {
    this.measuring ??= (async () => {
      const targets = (this.o.rttTargets?.() ?? []).filter((id) => this.members.has(id) && this.linksTo(id).length > 0);
      let worst: number | undefined;
      let slowest: number | undefined;
      for (const peerId of targets) {
        try {
          // Throughput only on a direct link (a relayed one is capped at 128 KiB in all).
          const direct = this.o.libp2p.getConnections().some((c) => c.remotePeer.toString() === peerId && c.status === 'open' && !c.limits);
          const measure = async (bulk: boolean) => {
            const signal = AbortSignal.timeout(10_000);
            return measureLink(await this.openStream(peerId, RTT_PROTOCOL, signal, { direct }), { ...this.o.rtt, bulk });
          };
          const link = await measure(direct);
          let rttMs = link.rttMs;
          const best = this.rttWindow.length > 0 ? Math.min(...this.rttWindow) : undefined;
          for (let i = 0; i < RTT_RECHECKS && this.running && rttMs >= RTT_RECHECK_MS && (best === undefined || rttMs >= 2 * best); i++) {
            await new Promise((resolve) => setTimeout(resolve, RTT_RECHECK_GAP_MS));
            rttMs = Math.min(rttMs, (await measure(false).catch(() => undefined))?.rttMs ?? rttMs);
          }
          worst = Math.max(worst ?? 0, rttMs);
          if (link.bytesPerSecond !== undefined) slowest = Math.min(slowest ?? Infinity, link.bytesPerSecond);
        } catch (error) {
          this.o.log?.(`mesh: measuring the round trip to ${peerId} failed: ${(error as Error).message}`);
        }
      }
      if (worst !== undefined) {
        this.rttWindow.push(worst);
        if (this.rttWindow.length > RTT_WINDOW) this.rttWindow.shift();
        const rtt = quantizeRtt(Math.min(...this.rttWindow));
        const changed = rtt !== this.rtt;
        this.rtt = rtt;
        if (changed) this.changed();
      }
      if (slowest !== undefined) {
        this.rateWindow.push(slowest);
        if (this.rateWindow.length > RTT_WINDOW) this.rateWindow.shift();
        const rate = quantizeSpeed(Math.max(...this.rateWindow));
        const changed = rate !== this.linkRate;
        this.linkRate = rate;
        if (changed) this.changed();
      }
    })().finally(() => (this.measuring = undefined));
    return this.measuring;
  }

  /**
   * Registers a protocol only members may use (the pipeline's activation stream): a stream from a
   * peer still being checked waits for the verdict; one from a non-member is reset unread.
   */
  async handleForMembers(protocol: string, handler: StreamHandler, options: StreamHandlerOptions = {}): Promise<void> {
    this.memberProtocols.add(protocol);
    await this.o.libp2p.handle(
      protocol,
      async (stream, connection) => {
        const peerId = connection.remotePeer.toString();
        await this.pending.get(peerId);
        if (!this.members.has(peerId)) return stream.abort(new Error(`${peerId} has not proved membership of this mesh`));
        await handler(stream, connection);
      },
      options,
    );
  }

  isMember(peerId: string): boolean {
    return this.members.has(peerId);
  }

  /** Verified members, in peer-id order, with their current links and last gossiped state. */
  memberList(): MemberView[] {
    return [...this.members.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([peerId, m]) => ({ peerId, links: this.linksTo(peerId), ...(m.state ? { state: m.state } : {}) }));
  }

  /**
   * Refuses a member: it is no member, its links are hung up. From now on (the head revoked it), or,
   * for a reason it can mend (credential refused: expired), until its next connection proves otherwise.
   */
  async refuse(peerId: string, reason: string): Promise<void> {
    if (peerId === this.selfPeerId || this.refused.get(peerId)?.reason === reason) return;
    this.remember(peerId, reason);
    this.members.delete(peerId);
    this.o.log?.(`mesh: refused ${peerId}: ${reason}`);
    this.changed();
    const peer = this.o.libp2p.getConnections().find((c) => c.remotePeer.toString() === peerId)?.remotePeer;
    if (peer) await this.o.libp2p.hangUp(peer).catch(() => {});
  }

  /**
   * The head rotated the mesh's secret: from now on membership is proved on `mesh` and gossip goes to
   * its topic. Every member is hung up on and checked again when it comes back: the kept ones hold the
   * new invite (rekey.ts), the others only the old secret, which no longer proves anything here.
   */
  async switchMesh(mesh: PrivateMesh): Promise<void> {
    const pubsub = this.o.libp2p.services.pubsub;
    pubsub.topicValidators.delete(this.topic);
    if (pubsub.getTopics().includes(this.topic)) pubsub.unsubscribe(this.topic);
    this.mesh = mesh;
    this.topic = meshTopic(mesh.meshId);
    this.generation++;
    pubsub.topicValidators.set(this.topic, this.validate);
    pubsub.subscribe(this.topic);
    const former = [...this.members.keys(), ...this.pending.keys()];
    this.formerMembers.clear();
    for (const peerId of former) this.formerMembers.add(peerId);
    this.members.clear();
    this.pending.clear();
    this.o.log?.(`mesh: switched to mesh ${mesh.meshId.slice(0, 8)}; ${former.length} members to check again`);
    this.changed();
    for (const peerId of former) {
      const peer = this.o.libp2p.getConnections().find((c) => c.remotePeer.toString() === peerId)?.remotePeer;
      if (peer) await this.o.libp2p.hangUp(peer).catch(() => {});
    }
  }

  /** Notes a refused peer; the oldest are forgotten past MAX_REFUSED (fresh identities cost an attacker nothing). */
  private remember(peerId: string, reason: string): void {
    this.refused.delete(peerId);
    this.refused.set(peerId, { reason, final: !curable(reason, this.formerMembers.has(peerId)) });
    for (const oldest of this.refused.keys()) {
      if (this.refused.size <= MAX_REFUSED) break;
      this.refused.delete(oldest);
    }
  }

  refusedList(): RefusedPeer[] {
    return [...this.refused.entries()].map(([peerId, { reason }]) => ({ peerId, reason }));
  }

  linksTo(peerId: string): LinkType[] {
    const conns = this.o.libp2p.getConnections().filter((c) => c.remotePeer.toString() === peerId && c.status === 'open');
    return [...new Set(conns.map((c) => linkType(c.remoteAddr.toString())))].sort();
  }

  /**
   * Challenges the peer, asking again while it only times out on a connection that stays open (a
   * loaded machine answers late, not wrongly): MEMBERSHIP_ATTEMPTS tries in all.
   */
  private async verify(connection: Connection): Promise<MembershipOutcome> {
    const challenge = () => challengePeer(connection, this.mesh, this.selfPeerId, this.o.membershipTimeoutMs, this.o.admission);
    let outcome = await challenge();
    for (let attempt = 1; attempt < MEMBERSHIP_ATTEMPTS && !outcome.ok && outcome.timedOut && this.running && connection.status === 'open'; attempt++) {
      this.o.log?.(`mesh: ${connection.remotePeer.toString()} gave no membership proof in time (${outcome.reason}); asking again`);
      outcome = await challenge();
    }
    return outcome;
  }

  /** Verifies the peer behind `connection` once per peer id (Noise authenticates the id on each new link). */
  private onConnection(connection: Connection): void {
    const peerId = connection.remotePeer.toString();
    if (this.refused.get(peerId)?.final) return void connection.close().catch(() => {});
    if (this.members.has(peerId)) {
      this.changed();
      return;
    }
    const inFlight = this.pending.get(peerId);
    if (inFlight) {
      // A check of an earlier connection (one that may be dead: a peer restarted under the same id,
      // a member rejoining after a rotation) must not leave this one unchecked once it ends.
      inFlight
        .then(() => {
          if (this.running && !this.members.has(peerId) && connection.status === 'open') this.onConnection(connection);
        })
        .catch(() => {});
      return;
    }
    const generation = this.generation;
    const check = this.verify(connection)
      .then(async (outcome) => {
        if (this.pending.get(peerId) === check) this.pending.delete(peerId);
        if (!this.running || generation !== this.generation) return;
        if (outcome.ok) {
          this.refused.delete(peerId);
          this.formerMembers.delete(peerId);
          this.members.set(peerId, {});
          this.o.log?.(`mesh: ${peerId} proved membership`);
          this.changed();
          if (this.o.rttTargets?.().includes(peerId)) {
            // One already in flight may have started before this target was a member; a fresh link
            // may refuse its first streams for a moment: a few quick tries, not a wait for the next tick.
            for (let attempt = 0; attempt < RTT_FIRST_TRIES && this.rtt === undefined && this.running; attempt++) {
              if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 300));
              await this.measureRtt();
            }
          }
          await this.publishState();
          this.greet(peerId);
          return;
        }
        // A closed connection before an answer is no verdict: the next connection tries again. Nor is
        // a peer that kept timing out on an open one (a starved machine): it is dropped, not refused.
        if (
          outcome.timedOut ||
          (connection.status !== 'open' && !/wrong membership proof/.test(outcome.reason) && !outcome.reason.startsWith(CREDENTIAL_REFUSED))
        ) {
          this.o.log?.(`mesh: ${peerId} gave no membership proof in time; it is checked again on its next connection`);
          await connection.close().catch(() => {});
          return;
        }
        this.remember(peerId, outcome.reason);
        this.o.log?.(`mesh: refused ${peerId}: ${outcome.reason}`);
        await this.o.libp2p.hangUp(connection.remotePeer).catch(() => {});
        this.changed();
      })
      .catch((error: unknown) => {
        // Awaited by the pubsub validator too: it must settle, and an error here must not end the process.
        if (this.pending.get(peerId) === check) this.pending.delete(peerId);
        this.o.log?.(`mesh: checking ${peerId} failed: ${(error as Error).message}`);
      });
    this.pending.set(peerId, check);
  }

  private readonly onConnectionOpen = (event: CustomEvent<Connection>): void => this.onConnection(event.detail);
  private readonly onConnectionClose = (): void => this.changed();

  /** A member subscribed to the mesh topic: re-gossip to it what it may have missed. */
  private readonly onSubscriptionChange = (event: CustomEvent<SubscriptionChangeData>): void => {
    const peerId = event.detail.peerId.toString();
    if (event.detail.subscriptions.some((s) => s.topic === this.topic && s.subscribe)) this.greet(peerId);
  };

  /** Once a peer is both a verified member and subscribed to the topic (in either order), gossip reaches it. */
  private greet(peerId: string): void {
    if (!this.running || !this.members.has(peerId)) return;
    if (!this.o.libp2p.services.pubsub.getSubscribers(this.topic).some((p) => p.toString() === peerId)) return;
    void this.publishState().catch(() => {});
    for (const listener of this.joinListeners) listener(peerId);
  }

  /**
   * Pubsub validator: `propagator` is the neighbour that forwarded it, which must be a member. A
   * message from a neighbour still being checked waits for the verdict (a joiner's first gossip
   * often arrives while its membership proof is in flight).
   */
  private readonly validate = async (propagator: PeerId, message: Message): Promise<TopicValidatorResult> => {
    await this.pending.get(propagator.toString());
    if (!this.members.has(propagator.toString())) return TopicValidatorResult.Ignore;
    if (message.type !== 'signed') return TopicValidatorResult.Reject;
    const checked = decodeGossip(message.data, message.from.toString());
    return checked.ok ? TopicValidatorResult.Accept : TopicValidatorResult.Reject;
  };

  private readonly onMessage = (event: CustomEvent<Message>): void => {
    const message = event.detail;
    if (message.topic !== this.topic || message.type !== 'signed') return;
    const checked = decodeGossip(message.data, message.from.toString());
    if (!checked.ok || !this.sequences.accept(checked.value)) return;
    const m = checked.value;
    if (m.type !== 'peer-state') {
      // Plans and stage readiness (src/mesh/pipeline/): only from verified members.
      if (this.members.has(m.peerId)) for (const listener of this.gossipListeners) listener(m);
      return;
    }
    const known = this.members.get(m.peerId);
    // Members learned through gossip alone (no direct link yet) are vouched for by the forwarding
    // member, but not one this node refused: a member that does not know of the refusal (an expired
    // credential is the head's to judge) still forwards its state.
    if (!known && this.refused.has(m.peerId)) return;
    this.members.set(m.peerId, { ...known, state: m });
    this.changed();
  };

  /** Hears validated gossip other than peer state (plans, stage readiness) from members. */
  addGossipListener(listener: (message: GossipMessage) => void): () => void {
    this.gossipListeners.add(listener);
    return () => this.gossipListeners.delete(listener);
  }

  /** Called when a member joined the mesh topic (a late joiner): re-gossip what it needs (the plan). */
  addJoinListener(listener: (peerId: string) => void): () => void {
    this.joinListeners.add(listener);
    return () => this.joinListeners.delete(listener);
  }

  /** Called with onChange: members, links or gossiped state changed. */
  addChangeListener(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** Publishes a message of this peer on the mesh topic (the envelope is filled in here). */
  async publish(body: GossipBody): Promise<void> {
    if (!this.running) return;
    const message = { ...body, protocol: MESH_PROTOCOL_VERSION, peerId: this.selfPeerId, seq: ++this.seq, sentAt: Date.now() } as GossipMessage;
    await this.send(message);
  }

  /** Never rejects: callers publish without waiting, and gossip is best effort anyway. */
  private async send(message: GossipMessage): Promise<void> {
    let bytes: Uint8Array;
    try {
      bytes = encodeGossip(message);
    } catch (error) {
      this.o.log?.(`mesh: not gossiping a ${message.type}: ${(error as Error).message}`);
      return;
    }
    await this.o.libp2p.services.pubsub.publish(this.topic, bytes).catch(() => {});
  }

  /**
   * Opens a stream of `protocol` to a member (over any open connection, else by dialling it).
   * `direct`: never over a limited (relayed) connection, whose 2 min / 128 KiB cap would cut a
   * long-lived stream; it throws when there is no direct link and none can be dialled.
   */
  async openStream(peerId: string, protocol: string, signal?: AbortSignal, options: { direct?: boolean } = {}) {
    const connections = this.o.libp2p.getConnections().filter((c) => c.remotePeer.toString() === peerId);
    // Direct links first; one that says it is open may still fail a new stream (a WebRTC link
    // dying under a busy page): the next link is tried before giving up.
    const open = connections
      .filter((c) => c.status === 'open' && (!c.limits || options.direct !== true))
      .sort((a, b) => Number(!!a.limits) - Number(!!b.limits));
    let lastError: unknown;
    for (const connection of open) {
      try {
        return await connection.newStream(protocol, { signal, runOnLimitedConnection: options.direct !== true });
      } catch (error) {
        signal?.throwIfAborted();
        lastError = error;
      }
    }
    const peer = connections[0]?.remotePeer;
    if (!peer) throw lastError ?? new Error(`no link to ${peerId}`);
    return this.o.libp2p.dialProtocol(peer, protocol, { signal, runOnLimitedConnection: options.direct !== true });
  }

  async publishState(): Promise<void> {
    const rttMs = this.rttMs;
    if (!this.running || rttMs === undefined) return;
    const self = this.o.self();
    const message: PeerStateMessage = {
      type: 'peer-state',
      protocol: MESH_PROTOCOL_VERSION,
      peerId: this.selfPeerId,
      seq: ++this.seq,
      sentAt: Date.now(),
      role: self.role,
      backend: self.backend,
      memoryBudgetBytes: self.memoryBudgetBytes,
      layerTokensPerSecond: self.layerTokensPerSecond,
      rttMs,
      ...(this.linkRate ? { linkBytesPerSecond: this.linkRate } : {}),
      models: [...self.models],
      activeSessions: 0,
    };
    this.published.push(message);
    if (this.published.length > 4) this.published.shift();
    await this.send(message);
  }

  private changed(): void {
    this.o.onChange?.();
    for (const listener of this.changeListeners) listener();
  }
}
