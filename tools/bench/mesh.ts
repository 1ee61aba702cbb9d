// `npm run bench:mesh`: the mesh pipeline on the largest test model (bench-llama-q8_0), in one run:
// decode time per token solo (the head's own engine) and split 2 and 3 ways across server peers
// (p50 over --gen tokens, teacher-forced on the solo tokens so every run does the same work), in
// both topologies: star (the head sends to each stage in turn: 2k one-way hops per token for k
// stages) and chain (each stage forwards to the next, the last answers the head: k + 1 hops); the
// one-way latency of the links (small echo RTT/2 on the same kind of stream), the overhead each hop
// adds beyond it, and the join time (peer start → its layers served, weights on local disk).
// Hop overhead is a median over tokens of (token time − head's embed+logits − stages' compute) per
// hop, less the one-way latency: medians, because on a shared machine the means follow the load.
// Peers run in this Node process and link to the companion (the head) and to each other over
// WebSockets; Node has no WebRTC, so the WebRTC upgrade is measured by
// playwright/mesh-pipeline.spec.ts, not here. The last line reports the chain topology.
// Last line: mesh: 2way/solo=X 3way/solo=Y hop_overhead_ms=Z join_s=W
import { computeFor } from '../../src/engine/backend.ts';
import { fileSource } from '../../src/engine/file-source.ts';
import { openHead, type Head } from '../../src/engine/head.ts';
import { openModel, type ModelFile } from '../../src/engine/model.ts';
import { openPipeline } from '../../src/engine/pipeline.ts';
import { createInferenceSession, type InferenceSession } from '../../src/engine/session.ts';
import { openTail, type Tail } from '../../src/engine/tail.ts';
import { FrameStream } from '../../src/mesh/net/frame-stream.ts';
import type { PeerNode } from '../../src/mesh/net/peer-node.ts';
import { createMeshSession } from '../../src/mesh/pipeline/mesh-session.ts';
import { budgetFor, routeOf, startCoordinator, startServerPeer, startTestMesh, until, type TestMesh } from '../../src/mesh/pipeline/test-mesh.ts';
import { ensureModel } from '../models/registry.ts';
import { median } from './stats.ts';

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
const ECHO = '/mesh-llm-web/bench-echo/1.0.0';
const PROMPT = [1, 450, 2030, 3578, 16497, 4696, 10784, 278, 13844, 380, 1466, 1432, 1269, 11005, 29892];

const argmax = (xs: Float32Array) => xs.reduce((best, x, i) => (x > xs[best] ? i : best), 0);
const ms = (x: number) => x.toFixed(3);

/** Times every call of the head's embed and the tail's logits (the head's own work per token). */
function timed(head: Head, tail: Tail) {
  const t = { ms: 0 };
  return {
    t,
    head: { embed: async (ids: ArrayLike<number>) => { const s = performance.now(); try { return await head.embed(ids); } finally { t.ms += performance.now() - s; } } } satisfies Head,
    tail: { ...tail, logits: async (h: Float32Array, n: number) => { const s = performance.now(); try { return await tail.logits(h, n); } finally { t.ms += performance.now() - s; } } } as Tail,
  };
}

interface Decode { perToken: number[]; tokens: number[]; agree: number; headMs: number; headPerToken: number[] }

/**
 * Prefills the prompt, then decodes: greedy when `forced` is absent, else feeds `forced` and counts
 * agreement. `afterEach` runs after the prefill (-1) and after each decoded token, outside the timing.
 */
async function decode(session: InferenceSession, nVocab: number, forced?: readonly number[], headTime?: { ms: number }, afterEach?: (i: number) => void): Promise<Decode> {
  const logits = await session.extend(PROMPT, { logits: 'last' });
  afterEach?.(-1);
  let next = argmax(logits.subarray(0, nVocab));
  const perToken: number[] = [];
  const tokens: number[] = [];
  const headPerToken: number[] = [];
  let agree = 0;
  const head0 = headTime?.ms ?? 0;
  for (let i = 0; i < GEN; i++) {
    if (forced && forced[i] === next) agree++;
    const token = forced ? forced[i] : next;
    tokens.push(token);
    const headBefore = headTime?.ms ?? 0;
    const started = performance.now();
    next = argmax(await session.extend([token], { logits: 'last' }));
    perToken.push(performance.now() - started);
    headPerToken.push((headTime?.ms ?? 0) - headBefore);
    afterEach?.(i);
  }
  return { perToken, tokens, agree, headMs: ((headTime?.ms ?? 0) - head0) / GEN, headPerToken };
}

/** Round trip of a `size`-byte message on a fresh stream to each peer (same link, same framing as activations). */
async function echoRtt(mesh: TestMesh, peers: PeerNode[], size: number): Promise<number> {
  const rtts: number[] = [];
  const payload = new Uint8Array(size);
  for (const p of peers) {
    const stream = await mesh.companion.node.openStream(p.snapshot().peerId, ECHO);
    const lp = new FrameStream(stream, 1 << 20);
    for (let i = 0; i < 10; i++) { await lp.write(payload); await lp.read(); } // warm-up
    for (let i = 0; i < PINGS; i++) {
      const started = performance.now();
      await lp.write(payload);
      await lp.read();
      rtts.push(performance.now() - started);
    }
    await stream.close();
  }
  return median(rtts);
}

async function serveEcho(peer: PeerNode): Promise<void> {
  await peer.node!.handle(ECHO, async (stream) => {
    const lp = new FrameStream(stream, 1 << 20);
    try {
      for (;;) await lp.write((await lp.read()).subarray());
    } catch {
      // the bench closed the stream
    }
  });
}

interface Run { topology: Topology; p50: number; mean: number; agree: number; headMs: number; stageMs: number; transportP50: number; forwarded: number }
interface Split { ways: number; runs: Run[]; joinMs: number; loadMs: number[]; rtt: number; rttFrame: number; links: string }

/** Waits (briefly) for direct links between every pair of server peers, which chained stages forward on; says what they have. */
async function peerLinks(peers: PeerNode[]): Promise<string> {
  const ids = peers.map((p) => p.snapshot().peerId);
  const kinds = () => peers.flatMap((p, i) => ids.filter((_, j) => j !== i).map((id) => p.snapshot().peers.find((v) => v.peerId === id)?.links ?? []));
  await until('direct links between the stages', () => kinds().every((k) => k.includes('websocket')), 15_000).catch(() => {});
  return [...new Set(kinds().map((k) => k.join('+') || 'none'))].join(', ');
}

async function split(mesh: TestMesh, file: ModelFile, path: string, ways: number, forced: readonly number[], head: Head, tail: Tail): Promise<Split> {
  const coordinator = startCoordinator(mesh, MODEL, file);
  const peers: PeerNode[] = [];
  const sources: Array<{ close(): Promise<void> }> = [];
  try {
    const budget = budgetFor(file, Math.ceil(file.config.nLayer / ways));
    const open = async () => {
      const source = await fileSource(path);
      sources.push(source);
      return openModel(source);
    };
    const started = performance.now();
    peers.push(...(await Promise.all(Array.from({ length: ways }, () => startServerPeer(mesh, open, budget)))));
    const route = await routeOf(coordinator, ways, 60_000);
    const joinMs = performance.now() - started;
    const links = await peerLinks(peers);
    for (const p of peers) await serveEcho(p);
    const rtt = await echoRtt(mesh, peers, 32);
    const rttFrame = await echoRtt(mesh, peers, 40 + 4 * file.config.nEmbd);
    const c = file.config;
    const runs: Run[] = [];
    for (const topology of TOPOLOGIES) {
      const t = timed(head, tail);
      const session = createMeshSession({ node: mesh.companion.node, coordinator, head: t.head, tail: t.tail, nEmbd: c.nEmbd, nVocab: c.nVocab, maxPositions: c.nCtxTrain, plan: route.plan, stageTimeoutMs: 10_000, topology });
      const stages = () => peers.map((p) => p.snapshot().stage!);
      let before = stages();
      let last = before;
      const stagePerToken: number[] = [];
      const d = await decode(session, c.nVocab, forced, t.t, (i) => {
        const now = stages();
        if (i < 0) before = now;
        else stagePerToken.push(now.reduce((sum, a, k) => sum + a.computeMs - last[k].computeMs, 0));
        last = now;
      });
      const after = stages();
      session.free();
      // Stage compute per decoded token (the frames after the prompt's carry one token each).
      const stageMs = after.reduce((sum, a, i) => sum + (a.computeMs - before[i].computeMs) / Math.max(1, a.frames - before[i].frames), 0);
      const transport = d.perToken.map((x, i) => x - d.headPerToken[i] - stagePerToken[i]);
      const forwarded = after.reduce((sum, a, i) => sum + a.forwarded - before[i].forwarded, 0);
      runs.push({ topology, p50: median(d.perToken), mean: d.perToken.reduce((a, b) => a + b, 0) / GEN, agree: d.agree, headMs: d.headMs, stageMs, transportP50: median(transport), forwarded });
    }
    return { ways, runs, joinMs, loadMs: peers.map((p) => p.snapshot().stage!.loadMs ?? NaN), rtt, rttFrame, links };
  } finally {
    coordinator.stop();
    for (const p of peers) await p.stop().catch(() => {});
    for (const s of sources) await s.close();
  }
}

/** What each hop adds beyond the link's one-way latency: the per-token median of the time not spent computing, per hop. */
const hopOverhead = (r: Split, run: Run) => run.transportP50 / hopsOf(run.topology, r.ways) - r.rtt / 2;

async function main(): Promise<void> {
  const path = await ensureModel(MODEL);
  const compute = await computeFor('cpu');
  const file = await openModel(await fileSource(path));
  const c = file.config;
  console.log(`mesh benchmark: ${MODEL} (${c.nLayer} layers, width ${c.nEmbd}, vocab ${c.nVocab}), ${GEN} decoded tokens per run, WASM CPU kernels (1 thread) on every peer`);
  console.log('peers: Node, in this process, linked to the companion (head) and to each other over libp2p WebSockets + Noise + yamux on 127.0.0.1');
  console.log('(the head embeds and computes the logits; star: the head sends to each stage in turn, 2k one-way hops per token for k stages; chain: each stage forwards to the next and the last answers the head, k + 1 hops)');
  console.log('(2 cores shared with other work: per-token figures are medians, and still move with the load)');

  const solo = createInferenceSession(await openPipeline(file, [[0, c.nLayer]], compute), c.nEmbd, c.nVocab, { maxPositions: c.nCtxTrain });
  await decode(solo, c.nVocab); // warm-up
  const soloRun = await decode(createInferenceSession(await openPipeline(file, [[0, c.nLayer]], compute), c.nEmbd, c.nVocab, { maxPositions: c.nCtxTrain }), c.nVocab);
  const soloP50 = median(soloRun.perToken);
  console.log(`solo    decode p50 ${ms(soloP50)} ms/token (${(1000 / soloP50).toFixed(1)} tok/s)`);

  const mesh = await startTestMesh();
  const [head, tail] = [await openHead(file, compute), await openTail(file, compute)];
  const rows: Split[] = [];
  try {
    for (const ways of [2, 3]) {
      const r = await split(mesh, file, path, ways, soloRun.tokens, head, tail);
      rows.push(r);
      for (const run of r.runs) {
        const hops = hopsOf(run.topology, ways);
        console.log(`${ways}-way ${run.topology.padEnd(5)} decode p50 ${ms(run.p50)} ms/token (${(1000 / run.p50).toFixed(1)} tok/s), greedy agreement with solo ${run.agree}/${GEN}, frames forwarded stage to stage ${run.forwarded}`);
        console.log(`        mean per token ${ms(run.mean)} ms: head embed+logits ${ms(run.headMs)} ms, stages' compute ${ms(run.stageMs)} ms; links and framing p50 ${ms(run.transportP50)} ms over ${hops} hops`);
        console.log(`        hop overhead beyond one-way latency: ${ms(hopOverhead(r, run))} ms; vs solo: ${ms((run.p50 - soloP50) / hops - r.rtt / 2)} ms`);
      }
      console.log(`        link RTT p50: ${ms(r.rtt)} ms (32 B), ${ms(r.rttFrame)} ms (one ${40 + 4 * c.nEmbd}-byte frame); one-way ${ms(r.rtt / 2)} ms; links between stages: ${r.links}`);
      console.log(`        join: ${ways} peers started → ready ${ways}-stage plan in ${(r.joinMs / 1000).toFixed(2)} s (layer loads ${r.loadMs.map((x) => `${x} ms`).join(', ')}); WebRTC upgrade: n/a in Node (WebSockets links)`);
    }
  } finally {
    await mesh.stop();
  }
  const chain = (r: Split) => r.runs.find((run) => run.topology === 'chain')!;
  const hop = median(rows.map((r) => hopOverhead(r, chain(r))));
  const ratio = (r: Split) => (soloP50 / chain(r).p50).toFixed(2);
  const join = Math.max(...rows.map((r) => r.joinMs)) / 1000;
  console.log(`mesh: 2way/solo=${ratio(rows[0])} 3way/solo=${ratio(rows[1])} hop_overhead_ms=${hop.toFixed(2)} join_s=${join.toFixed(2)}`);
  process.exit(0);
}

await main();
