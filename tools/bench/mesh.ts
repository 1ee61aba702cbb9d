// `npm run bench:mesh`: the mesh pipeline on the largest test model (bench-llama-q8_0), in one run.
//
// Decode: time per token solo (the head's own engine) and split 2 and 3 ways across server peers
// (p50 over --gen tokens, teacher-forced on the solo tokens so every run does the same work), in
// both topologies: star (the head sends to each stage in turn: 2k one-way hops per token for k
// stages) and chain (each stage forwards to the next, the last answers the head: k + 1 hops). The
// peers run in this Node process and link over libp2p WebSockets + Noise + yamux on 127.0.0.1.
//
// One-way latency: half the round trip of a 32-byte message on an echo stream over each link the
// pipeline uses (head → each stage, stage → next stage; same framing as activations), pinged on
// every link right after each decoded token, so latency and token see the same load on a shared
// machine. Small, so that it is the link's own latency: carrying the 2 KiB frame counts as
// overhead (the frame-sized echo is printed beside it).
//
// Hop overhead o, per topology and split (the figure the target bounds):
//   per token i:  transport_i = T_i − head_i − stages_i
//                 (T: the token's time in session.extend; head: the head's embed + logits;
//                  stages: the compute the stages report for that token)
//                 latency_i   = Σ over the token's hops of its link's one-way latency
//   o = median_i((transport_i − latency_i) / hops)
// so o is what each hop adds beyond the link's latency: framing, copies, Noise/yamux beyond the
// echo's, awaits and timers, bookkeeping on both ends. Compute is subtracted as measured per
// token, not as the solo run's, because on a shared machine the two runs see different loads; the
// "vs solo" figure ((T_split p50 − T_solo p50) / hops − one-way p50) is printed beside it as a check.
// The last line's hop_overhead_ms is the median of the chain topology's o over the 2- and 3-way
// splits; the ratios are tokens/s of the chain splits over solo.
//
// Join (mesh-join.ts): a real page load in Chromium, in a network namespace of its own so tabs
// link over WebRTC: navigation start → the tab serves its planned layers, weights cached in its
// profile; the median of --joins rejoins, with the WebRTC upgrade to the other tab beside it.
//
// The same join in a mesh with no companion (tabhead_join_s): a `--static-only` host, the mesh made
// and headed by a tab with role=client, every link WebRTC signalled over the Nostr relay.
//
// quic_hop_ms: the same hop overhead on QUIC, the native peers' transport: the 2-way chain split
// again in a mesh whose head and stages link over libp2p QUIC (@chainsafe/libp2p-quic) on 127.0.0.1.
//
// WebTransport (webtransport_hop_ms): the same hop overhead, the chain's o, for one stage on a Node
// peer that reaches the companion only over its WebTransport bridge (the invite names nothing else;
// @libp2p/webtransport's dialer over the Node client). The dialer picks its WebTransport binding when
// it loads, so this runs in a child process started with webtransport-node.ts preloaded.
//
// Last line: mesh: 2way/solo=X 3way/solo=Y hop_overhead_ms=Z join_s=W tabhead_join_s=T cold3_s=C kill_delay_ms=K quic_hop_ms=Q webtransport_hop_ms=V (NaN: not measured)
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { computeFor } from '../../src/engine/backend.ts';
import { fileSource } from '../../src/engine/file-source.ts';
import { openHead, type Head } from '../../src/engine/head.ts';
import { openModel, type ModelFile } from '../../src/engine/model.ts';
import { openPipeline } from '../../src/engine/pipeline.ts';
import { createInferenceSession, type InferenceSession } from '../../src/engine/session.ts';
import { openTail, type Tail } from '../../src/engine/tail.ts';
import { modelMemory } from '../../src/mesh/layer-memory.ts';
import type { FrameStream } from '../../src/mesh/net/frame-stream.ts';
import type { PeerNode, PeerNodeOptions } from '../../src/mesh/net/peer-node.ts';
import { quicListenAddress, quicTransport } from '../../src/companion/native-transports.ts';
import { linkType } from '../../src/mesh/net/link-type.ts';
import { createMeshSession } from '../../src/mesh/pipeline/mesh-session.ts';
import { budgetFor, routeOf, startCoordinator, startServerPeer, startTestMesh, until, type TestMesh } from '../../src/mesh/testing/test-mesh.ts';
import { ensureModel } from '../models/registry.ts';
import { measureBrowserJoins, type JoinSummary } from './mesh-join.ts';
import { measureChurn, type Churn } from './mesh-churn.ts';
import { median } from './stats.ts';
import { ECHO, openEchoStream, ping, serveEcho, type Libp2pNode } from './echo.ts';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const MODEL = opt('model', 'bench-llama-q8_0');
const TOPOLOGIES = ['star', 'chain'] as const;
type Topology = (typeof TOPOLOGIES)[number];
const hopsOf = (topology: Topology, ways: number) => (topology === 'chain' ? ways + 1 : 2 * ways);
const GEN = Number(opt('gen', '200'));
const PINGS = Number(opt('pings', '200'));
const JOINS = Number(opt('joins', '3'));
const PROMPT = [1, 450, 2030, 3578, 16497, 4696, 10784, 278, 13844, 380, 1466, 1432, 1269, 11005, 29892];

function argmax(xs: Float32Array): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}
const ms = (x: number) => x.toFixed(3);

/** Times every call of the head's embed and the tail's logits (the head's own work per token). */
function timed(head: Head, tail: Tail) {
  const t = { ms: 0 };
  return {
    t,
    head: {
      embed: async (ids: ArrayLike<number>) => {
        const s = performance.now();
        try {
          return await head.embed(ids);
        } finally {
          t.ms += performance.now() - s;
        }
      },
    } satisfies Head,
    tail: {
      ...tail,
      logits: async (h: Float32Array, n: number) => {
        const s = performance.now();
        try {
          return await tail.logits(h, n);
        } finally {
          t.ms += performance.now() - s;
        }
      },
    } as Tail,
  };
}

interface Decode {
  perToken: number[];
  tokens: number[];
  agree: number;
  headPerToken: number[];
}

/**
 * Prefills the prompt, then decodes: greedy when `forced` is absent, else feeds `forced` and counts
 * agreement. Only session.extend is timed (the argmax is not); `afterEach` runs after the prefill
 * (-1) and after each decoded token, outside the timing.
 */
async function decode(
  session: InferenceSession,
  nVocab: number,
  forced?: readonly number[],
  headTime?: { ms: number },
  afterEach?: (i: number) => Promise<void>,
): Promise<Decode> {
  const logits = await session.extend(PROMPT, { logits: 'last' });
  await afterEach?.(-1);
  let next = argmax(logits.subarray(0, nVocab));
  const perToken: number[] = [];
  const tokens: number[] = [];
  const headPerToken: number[] = [];
  let agree = 0;
  for (let i = 0; i < GEN; i++) {
    if (forced && forced[i] === next) agree++;
    const token = forced ? forced[i] : next;
    tokens.push(token);
    const headBefore = headTime?.ms ?? 0;
    const started = performance.now();
    const out = await session.extend([token], { logits: 'last' });
    perToken.push(performance.now() - started);
    headPerToken.push((headTime?.ms ?? 0) - headBefore);
    next = argmax(out);
    await afterEach?.(i);
  }
  return { perToken, tokens, agree, headPerToken };
}

/** An echo stream to `to`, warmed up (same framing as activations). */
async function openEcho(from: Libp2pNode, to: string): Promise<FrameStream> {
  const lp = await openEchoStream(from, to);
  for (let i = 0; i < 10; i++) await ping(lp, 32); // warm-up
  return lp;
}

/**
 * The links a split uses, each with an echo stream: head → each stage, and each stage → the next.
 * `route(topology)` lists, per one-way hop of a token, the index of the link it crosses (a reply
 * crosses the link its request came by; the chain's last stage answers the head on the link to it).
 */
interface Links {
  readonly echoes: FrameStream[];
  readonly names: string[];
  route(topology: Topology): number[];
  /** p50 RTT over PINGS pings of every link, of a 32-byte message and of a frame-sized one, before the decode runs. */
  readonly rtt: number;
  readonly rttFrame: number;
  readonly kinds: string;
}

async function openLinks(mesh: TestMesh, peers: PeerNode[], order: string[], frameBytes: number): Promise<Links> {
  const byId = new Map(peers.map((p) => [p.snapshot().peerId, p]));
  const head = mesh.libp2p as unknown as Libp2pNode;
  const echoes: FrameStream[] = [];
  const names: string[] = [];
  for (let i = 0; i < order.length; i++) {
    echoes.push(await openEcho(head, order[i]));
    names.push(`head→s${i + 1}`);
  }
  for (let i = 0; i + 1 < order.length; i++) {
    echoes.push(await openEcho(byId.get(order[i])!.node!, order[i + 1]));
    names.push(`s${i + 1}→s${i + 2}`);
  }
  const k = order.length;
  const route = (topology: Topology) => (topology === 'star' ? order.flatMap((_, i) => [i, i]) : [0, ...Array.from({ length: k - 1 }, (_, i) => k + i), k - 1]);
  const small: number[] = [];
  const frame: number[] = [];
  for (const lp of echoes) {
    for (let i = 0; i < PINGS; i++) small.push(await ping(lp, 32));
    for (let i = 0; i < PINGS; i++) frame.push(await ping(lp, frameBytes));
  }
  const kinds = [
    ...new Set(
      peers.flatMap((p) =>
        p
          .snapshot()
          .peers.filter((v) => byId.has(v.peerId))
          .map((v) => v.links.join('+') || 'none'),
      ),
    ),
  ].join(', ');
  return { echoes, names, route, rtt: median(small), rttFrame: median(frame), kinds };
}

interface Run {
  topology: Topology;
  p50: number;
  mean: number;
  agree: number;
  headP50: number;
  stageP50: number;
  transportP50: number;
  forwarded: number;
  /** Per token: the one-way latencies of the hops it took, summed (echo pings right after it). */
  latencyP50: number;
  /** The hop overhead: median over tokens of (transport − latencies) / hops. */
  overhead: number;
  /** Median one-way latency of a single link during this run. */
  oneWay: number;
}
interface Split {
  ways: number;
  runs: Run[];
  joinMs: number;
  loadMs: number[];
  links: Links;
}

/** Waits (briefly) for direct links between every pair of server peers, which chained stages forward on. */
async function peerLinks(peers: PeerNode[]): Promise<void> {
  const ids = peers.map((p) => p.snapshot().peerId);
  const kinds = () => peers.flatMap((p, i) => ids.filter((_, j) => j !== i).map((id) => p.snapshot().peers.find((v) => v.peerId === id)?.links ?? []));
  await until('direct links between the stages', () => kinds().every((k) => k.includes('websocket') || k.includes('quic')), 15_000).catch(() => {});
}

async function split(
  mesh: TestMesh,
  file: ModelFile,
  path: string,
  ways: number,
  forced: readonly number[],
  head: Head,
  tail: Tail,
  peerOptions: Partial<PeerNodeOptions> = {},
): Promise<Split> {
  const coordinator = startCoordinator(mesh, MODEL, file);
  const peers: PeerNode[] = [];
  const sources: Array<{ close(): Promise<void> }> = [];
  let links: Links | undefined;
  try {
    const budget = budgetFor(file, Math.ceil(file.config.nLayer / ways));
    const open = async () => {
      const source = await fileSource(path);
      sources.push(source);
      return openModel(source);
    };
    const started = performance.now();
    peers.push(...(await Promise.all(Array.from({ length: ways }, () => startServerPeer(mesh, open, budget, undefined, true, peerOptions)))));
    const route = await routeOf(coordinator, ways, 60_000);
    const joinMs = performance.now() - started;
    await peerLinks(peers);
    await serveEcho(mesh.libp2p as unknown as Libp2pNode);
    for (const p of peers) await serveEcho(p.node!);
    const c = file.config;
    links = await openLinks(
      mesh,
      peers,
      route.plan.stages.map((s) => s.peerId),
      40 + 4 * c.nEmbd,
    );
    const l = links;
    const runs: Run[] = [];
    for (const topology of TOPOLOGIES) {
      const t = timed(head, tail);
      const session = createMeshSession({
        node: mesh.companion.node,
        coordinator,
        head: t.head,
        tail: t.tail,
        nEmbd: c.nEmbd,
        nVocab: c.nVocab,
        maxPositions: c.nCtxTrain,
        plan: route.plan,
        stageTimeoutMs: 10_000,
        topology,
      });
      const hops = l.route(topology);
      const stages = () => peers.map((p) => p.snapshot().stage!);
      let before = stages();
      let last = before;
      const stagePerToken: number[] = [];
      const latencyPerToken: number[] = [];
      const oneWay: number[] = [];
      const d = await decode(session, c.nVocab, forced, t.t, async (i) => {
        const now = stages();
        if (i < 0) before = now;
        else stagePerToken.push(now.reduce((sum, a, k) => sum + a.computeMs - last[k].computeMs, 0));
        last = now;
        if (i < 0) return;
        // The latency of each link this token crossed, measured now (the load a moment ago).
        const rtts: number[] = [];
        for (const lp of l.echoes) rtts.push(await ping(lp, 32));
        oneWay.push(...rtts.map((x) => x / 2));
        latencyPerToken.push(hops.reduce((sum, link) => sum + rtts[link] / 2, 0));
      });
      const after = stages();
      session.free();
      const transport = d.perToken.map((x, i) => x - d.headPerToken[i] - stagePerToken[i]);
      const forwarded = after.reduce((sum, a, i) => sum + a.forwarded - before[i].forwarded, 0);
      runs.push({
        topology,
        p50: median(d.perToken),
        mean: d.perToken.reduce((a, b) => a + b, 0) / GEN,
        agree: d.agree,
        headP50: median(d.headPerToken),
        stageP50: median(stagePerToken),
        transportP50: median(transport),
        forwarded,
        latencyP50: median(latencyPerToken),
        overhead: median(transport.map((x, i) => (x - latencyPerToken[i]) / hops.length)),
        oneWay: median(oneWay),
      });
    }
    return { ways, runs, joinMs, loadMs: peers.map((p) => p.snapshot().stage!.loadMs ?? NaN), links: l };
  } finally {
    for (const lp of links?.echoes ?? []) await lp.stream.close().catch(() => {});
    coordinator.stop();
    await mesh.libp2p.unhandle(ECHO).catch(() => {});
    for (const p of peers) await p.stop().catch(() => {});
    for (const s of sources) await s.close();
  }
}

const WEBTRANSPORT_CHILD = 'BENCH_WEBTRANSPORT_HOP';

/** webtransport_hop_ms, from a child process of this bench (see the header); NaN where it fails. */
async function webTransportHop(): Promise<number> {
  const child = spawn(
    process.execPath,
    ['--import', fileURLToPath(new URL('./webtransport-node.ts', import.meta.url)), fileURLToPath(import.meta.url), ...args],
    {
      env: { ...process.env, [WEBTRANSPORT_CHILD]: '1' },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  await new Promise((resolve) => child.once('exit', resolve));
  for (const line of out.split('\n').filter((l) => l.startsWith('webtransport '))) console.log(line);
  return Number(/webtransport_hop_ms=(\S+)/.exec(out)?.[1] ?? Number.NaN);
}

/** In the child: the chain's hop overhead for one stage on a peer linked to the companion by WebTransport alone. */
async function measureWebTransportHop(file: ModelFile, path: string, forced: readonly number[], head: Head, tail: Tail): Promise<number> {
  const mesh = await startTestMesh({ webTransport: true });
  const seen = new Set<string>();
  mesh.libp2p.addEventListener('connection:open', (e) => seen.add(linkType(e.detail.remoteAddr.toString())));
  try {
    const only = mesh.invite.bootstrap.filter((a) => a.includes('/webtransport/'));
    const r = await split({ ...mesh, invite: { ...mesh.invite, bootstrap: only } }, file, path, 1, forced, head, tail);
    const run = r.runs.find((x) => x.topology === 'chain')!;
    console.log(
      `webtransport 1-way: links the head took ${[...seen].join(', ')}, RTT p50 ${ms(r.links.rtt)} ms (32 B); chain decode p50 ${ms(run.p50)} ms/token, the rest ${ms(run.transportP50)} ms over 2 hops, of which one-way latencies ${ms(run.latencyP50)} ms; hop overhead ${ms(run.overhead)} ms`,
    );
    return run.overhead;
  } catch (error) {
    console.log(`webtransport hop: not measured: ${(error as Error).message.split('\n')[0]}`);
    return Number.NaN;
  } finally {
    await mesh.stop();
  }
}

/** The 2-way chain's hop overhead with the head and both stages on QUIC (native peers' links); NaN when a link is not QUIC. */
async function quicHop(file: ModelFile, path: string, forced: readonly number[], head: Head, tail: Tail): Promise<number> {
  const mesh = await startTestMesh({ quic: true });
  const headLinks = new Set<string>();
  mesh.libp2p.addEventListener('connection:open', (event) => headLinks.add(linkType(event.detail.remoteAddr.toString())));
  try {
    const quic = { transports: [quicTransport()], listen: [quicListenAddress('127.0.0.1', 0)] };
    const r = await split(mesh, file, path, 2, forced, head, tail, quic);
    const chain = r.runs.find((run) => run.topology === 'chain')!;
    console.log(
      `quic    2-way chain over ${r.links.names.join(', ')} (head: ${[...headLinks].join(', ')}; stages: ${r.links.kinds}): RTT p50 ${ms(r.links.rtt)} ms (32 B), ${ms(r.links.rttFrame)} ms (frame); decode p50 ${ms(chain.p50)} ms/token, greedy agreement with solo ${chain.agree}/${GEN}`,
    );
    console.log(
      `        p50 per token: head embed+logits ${ms(chain.headP50)} ms, stages' compute ${ms(chain.stageP50)} ms, the rest ${ms(chain.transportP50)} ms over 3 hops, of which one-way latencies ${ms(chain.latencyP50)} ms; hop overhead beyond the one-way latency ${ms(chain.overhead)} ms`,
    );
    // Stage to stage (r.links.kinds) and head to each stage: QUIC alone, or the figure is not QUIC's.
    return r.links.kinds === 'quic' && [...headLinks].join() === 'quic' ? chain.overhead : Number.NaN;
  } finally {
    await mesh.stop();
  }
}

function joinLines(j: JoinSummary): string[] {
  const m = j.median.marks;
  const at = (k: string) => (m[k] === undefined ? 'never' : `${Math.round(m[k])}`);
  const steps = j.median.loadSteps;
  return [
    `join (Chromium page load, ${j.where}): navigation start → serving its planned layers, weights cached: p50 ${(j.joinMs / 1000).toFixed(2)} s over ${j.runs.length} rejoins (${j.runs.map((r) => (r.joinMs / 1000).toFixed(2)).join(', ')} s); first join with nothing cached ${(j.coldMs / 1000).toFixed(2)} s`,
    `        WebRTC upgrade to the other tab: ${j.webrtcMs === undefined ? 'none within the wait' : `p50 ${(j.webrtcMs / 1000).toFixed(2)} s after navigation start`} (${j.runs.filter((r) => r.webrtcMs !== undefined).length} of ${j.runs.length} rejoins upgraded within 10 s of serving)`,
    `        the median rejoin, ms after navigation start: app ${at('app')}, mesh starting ${at('mesh starting')}, linked to the companion ${m['link webtransport'] === undefined ? at('link websocket') : `${at('link webtransport')} (WebTransport)`}, member ${at('head member')}, round trip measured ${at('rtt measured')}, ` +
      `planned ${at('planned')}, layers loaded ${at('stage ready')}${steps ? ` (model opened +${steps.openMs}, kernels +${steps.kernelsMs}, weights +${steps.weightsMs})` : ''}, serving ${at('serving')}; relayed link ${at('link relay')}, WebRTC ${at('link webrtc')}`,
  ];
}

/** No slack: budgets for half, a quarter and a quarter of the layers (each with half a layer to spare). */
function churnBudgets(file: ModelFile): number[] {
  const n = file.config.nLayer;
  const largest = Math.max(...modelMemory(file.header).layerBytes);
  const quarter = Math.floor(n / 4);
  return [n - 2 * quarter, quarter, quarter].map((k) => Math.floor(largest * (k + 0.5)));
}

/** `--churn-only` (`--verbose`: with the companion's log, stamped): the churn figures alone, for chasing cold3_s. */
async function churnOnly(file: ModelFile): Promise<void> {
  const churn = await measureChurn(MODEL, churnBudgets(file), args.includes('--verbose') ? { log: (line) => console.log(`companion ${line}`) } : {});
  for (const line of churn.lines) console.log(line);
  console.log(`mesh churn: cold3_s=${churn.cold3S.toFixed(2)} kill_delay_ms=${Math.round(churn.killDelayMs)}`);
  process.exit(0);
}

async function main(): Promise<void> {
  const path = await ensureModel(MODEL);
  const compute = await computeFor('cpu');
  const file = await openModel(await fileSource(path));
  const c = file.config;
  if (args.includes('--churn-only')) return churnOnly(file);
  console.log(
    `mesh benchmark: ${MODEL} (${c.nLayer} layers, width ${c.nEmbd}, vocab ${c.nVocab}), ${GEN} decoded tokens per run, WASM CPU kernels (1 thread) on every peer`,
  );
  console.log('decode peers: Node, in this process, linked to the companion (head) and to each other over libp2p WebSockets + Noise + yamux on 127.0.0.1');
  console.log(
    '(the head embeds and computes the logits; star: the head sends to each stage in turn, 2k one-way hops per token for k stages; chain: each stage forwards to the next and the last answers the head, k + 1 hops)',
  );
  console.log(
    "hop overhead = median over tokens of (token time − head embed+logits − stages' compute − Σ one-way latency of the hops taken) / hops; latency = 32-byte echo RTT/2 on each link, pinged right after each token",
  );

  const solo = createInferenceSession(await openPipeline(file, [[0, c.nLayer]], compute), c.nEmbd, c.nVocab, { maxPositions: c.nCtxTrain });
  await decode(solo, c.nVocab); // warm-up
  const soloRun = await decode(
    createInferenceSession(await openPipeline(file, [[0, c.nLayer]], compute), c.nEmbd, c.nVocab, { maxPositions: c.nCtxTrain }),
    c.nVocab,
  );
  const soloP50 = median(soloRun.perToken);
  console.log(`solo    decode p50 ${ms(soloP50)} ms/token (${(1000 / soloP50).toFixed(1)} tok/s)`);

  if (process.env[WEBTRANSPORT_CHILD]) {
    const hop = await measureWebTransportHop(file, path, soloRun.tokens, await openHead(file, compute), await openTail(file, compute));
    console.log(`webtransport_hop_ms=${hop.toFixed(3)}`);
    process.exit(0);
  }
  const mesh = await startTestMesh();
  const [head, tail] = [await openHead(file, compute), await openTail(file, compute)];
  const rows: Split[] = [];
  try {
    for (const ways of [2, 3]) {
      const r = await split(mesh, file, path, ways, soloRun.tokens, head, tail);
      rows.push(r);
      console.log(
        `${ways}-way   links ${r.links.names.join(', ')} (${r.links.kinds}): RTT p50 ${ms(r.links.rtt)} ms (32 B), ${ms(r.links.rttFrame)} ms (a ${40 + 4 * c.nEmbd}-byte frame), over ${PINGS} pings each before decoding`,
      );
      for (const run of r.runs) {
        const hops = hopsOf(run.topology, ways);
        console.log(
          `${ways}-way ${run.topology.padEnd(5)} decode p50 ${ms(run.p50)} ms/token (${(1000 / run.p50).toFixed(1)} tok/s), greedy agreement with solo ${run.agree}/${GEN}, frames forwarded stage to stage ${run.forwarded}`,
        );
        console.log(
          `        p50 per token: head embed+logits ${ms(run.headP50)} ms, stages' compute ${ms(run.stageP50)} ms, the rest (links, framing) ${ms(run.transportP50)} ms over ${hops} hops, of which one-way latencies ${ms(run.latencyP50)} ms (one link: ${ms(run.oneWay)} ms)`,
        );
        console.log(
          `        hop overhead beyond the one-way latency: ${ms(run.overhead)} ms (check, vs solo: ${ms((run.p50 - soloP50) / hops - run.oneWay)} ms)`,
        );
      }
      console.log(
        `        Node peers' join: ${ways} peers started → ready ${ways}-stage plan in ${(r.joinMs / 1000).toFixed(2)} s (layer loads ${r.loadMs.map((x) => `${x} ms`).join(', ')})`,
      );
    }
  } finally {
    await mesh.stop();
  }
  const quicHopMs = await quicHop(file, path, soloRun.tokens, head, tail).catch((error: unknown) => {
    console.log(`quic: not measured: ${(error as Error).message.split('\n')[0]}`);
    return Number.NaN;
  });
  const webTransportHopMs = await webTransportHop();

  // Half the model's layers (and a half layer to spare) per tab: the head plans it across two tabs.
  const budget = Math.floor(Math.max(...modelMemory(file.header).layerBytes) * (Math.ceil(c.nLayer / 2) + 0.5));
  let join: JoinSummary | undefined;
  try {
    if (JOINS < 1) throw new Error('--joins 0');
    join = await measureBrowserJoins(MODEL, budget, JOINS);
    for (const line of joinLines(join)) console.log(line);
  } catch (error) {
    console.log(`join: not measured: ${(error as Error).message.split('\n')[0]}`);
  }

  // The same join with no companion: the mesh made and headed by a tab on a --static-only host.
  let tabJoin: JoinSummary | undefined;
  try {
    if (JOINS < 1) throw new Error('--joins 0');
    tabJoin = await measureBrowserJoins(MODEL, budget, JOINS, 'tab');
    for (const line of joinLines(tabJoin)) console.log(`tab head: ${line}`);
  } catch (error) {
    console.log(`tab head join: not measured: ${(error as Error).message.split('\n')[0]}`);
  }

  let churn: Churn | undefined;
  try {
    churn = await measureChurn(MODEL, churnBudgets(file));
    for (const line of churn.lines) console.log(line);
  } catch (error) {
    console.log(`churn: not measured: ${(error as Error).message.split('\n')[0]}`);
  }

  const chain = (r: Split) => r.runs.find((run) => run.topology === 'chain')!;
  const hop = median(rows.map((r) => chain(r).overhead));
  const ratio = (r: Split) => (soloP50 / chain(r).p50).toFixed(2);
  const joinS = join ? (join.joinMs / 1000).toFixed(2) : 'NaN';
  const tabJoinS = tabJoin ? (tabJoin.joinMs / 1000).toFixed(2) : 'NaN';
  const cold3 = churn && Number.isFinite(churn.cold3S) ? churn.cold3S.toFixed(2) : 'NaN';
  const killDelay = churn && Number.isFinite(churn.killDelayMs) ? String(Math.round(churn.killDelayMs)) : 'NaN';
  console.log(
    `mesh: 2way/solo=${ratio(rows[0])} 3way/solo=${ratio(rows[1])} hop_overhead_ms=${hop.toFixed(2)} join_s=${joinS} tabhead_join_s=${tabJoinS} cold3_s=${cold3} kill_delay_ms=${killDelay} quic_hop_ms=${quicHopMs.toFixed(2)} webtransport_hop_ms=${webTransportHopMs.toFixed(2)}`,
  );
  process.exit(0);
}

await main();
