// `npm run bench:mesh`: the mesh pipeline on the largest test model (bench-llama-q8_0), in one run:
// decode time per token solo (the head's own engine) and split 2 and 3 ways across server peers
// (p50 over --gen tokens, teacher-forced on the solo tokens so every run does the same work), the
// one-way latency of the links (small echo RTT/2 on the same kind of stream), the overhead each hop
// adds beyond it, and the join time (peer start → its layers served, weights on local disk).
// Peers run in this Node process and link to the companion (the head) over WebSockets; Node has
// no WebRTC, so the WebRTC upgrade is measured by playwright/mesh-pipeline.spec.ts, not here.
// Last line: mesh: 2way/solo=X 3way/solo=Y hop_overhead_ms=Z join_s=W
import { lpStream } from '@libp2p/utils';
import { computeFor } from '../../src/engine/backend.ts';
import { fileSource } from '../../src/engine/file-source.ts';
import { openHead, type Head } from '../../src/engine/head.ts';
import { openModel, type ModelFile } from '../../src/engine/model.ts';
import { openPipeline } from '../../src/engine/pipeline.ts';
import { createInferenceSession, type InferenceSession } from '../../src/engine/session.ts';
import { openTail, type Tail } from '../../src/engine/tail.ts';
import type { PeerNode } from '../../src/mesh/net/peer-node.ts';
import { createMeshSession } from '../../src/mesh/pipeline/mesh-session.ts';
import { budgetFor, routeOf, startCoordinator, startServerPeer, startTestMesh, type TestMesh } from '../../src/mesh/pipeline/test-mesh.ts';
import { ensureModel } from '../models/registry.ts';
import { median } from './stats.ts';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const MODEL = opt('model', 'bench-llama-q8_0');
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

interface Decode { perToken: number[]; tokens: number[]; agree: number; headMs: number }

/** Prefills the prompt, then decodes: greedy when `forced` is absent, else feeds `forced` and counts agreement. */
async function decode(session: InferenceSession, nVocab: number, forced?: readonly number[], headTime?: { ms: number }, afterPrefill?: () => void): Promise<Decode> {
  const logits = await session.extend(PROMPT, { logits: 'last' });
  afterPrefill?.();
  let next = argmax(logits.subarray(0, nVocab));
  const perToken: number[] = [];
  const tokens: number[] = [];
  let agree = 0;
  const head0 = headTime?.ms ?? 0;
  for (let i = 0; i < GEN; i++) {
    if (forced && forced[i] === next) agree++;
    const token = forced ? forced[i] : next;
    tokens.push(token);
    const started = performance.now();
    next = argmax(await session.extend([token], { logits: 'last' }));
    perToken.push(performance.now() - started);
  }
  return { perToken, tokens, agree, headMs: ((headTime?.ms ?? 0) - head0) / GEN };
}

/** Round trip of a `size`-byte message on a fresh stream to each peer (same link, same framing as activations). */
async function echoRtt(mesh: TestMesh, peers: PeerNode[], size: number): Promise<number> {
  const rtts: number[] = [];
  const payload = new Uint8Array(size);
  for (const p of peers) {
    const stream = await mesh.companion.node.openStream(p.snapshot().peerId, ECHO);
    const lp = lpStream(stream);
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
    const lp = lpStream(stream);
    try {
      for (;;) await lp.write((await lp.read()).subarray());
    } catch {
      // the bench closed the stream
    }
  });
}

interface Split { ways: number; p50: number; mean: number; agree: number; joinMs: number; loadMs: number[]; headMs: number; stageMs: number; rtt: number; rttFrame: number }

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
    for (const p of peers) await serveEcho(p);
    const rtt = await echoRtt(mesh, peers, 32);
    const rttFrame = await echoRtt(mesh, peers, 40 + 4 * file.config.nEmbd);
    const c = file.config;
    const t = timed(head, tail);
    const session = createMeshSession({ node: mesh.companion.node, coordinator, head: t.head, tail: t.tail, nEmbd: c.nEmbd, nVocab: c.nVocab, maxPositions: c.nCtxTrain, plan: route.plan, stageTimeoutMs: 10_000 });
    let before = peers.map((p) => p.snapshot().stage!);
    const d = await decode(session, c.nVocab, forced, t.t, () => (before = peers.map((p) => p.snapshot().stage!)));
    const after = peers.map((p) => p.snapshot().stage!);
    session.free();
    // Stage compute per decoded token (the frames after the prompt's carry one token each).
    const stageMs = after.reduce((sum, a, i) => sum + (a.computeMs - before[i].computeMs) / Math.max(1, a.frames - before[i].frames), 0);
    return { ways, p50: median(d.perToken), mean: d.perToken.reduce((a, b) => a + b, 0) / GEN, agree: d.agree, joinMs, loadMs: after.map((a) => a.loadMs ?? NaN), headMs: d.headMs, stageMs, rtt, rttFrame };
  } finally {
    coordinator.stop();
    for (const p of peers) await p.stop().catch(() => {});
    for (const s of sources) await s.close();
  }
}

async function main(): Promise<void> {
  const path = await ensureModel(MODEL);
  const compute = await computeFor('cpu');
  const file = await openModel(await fileSource(path));
  const c = file.config;
  console.log(`mesh benchmark: ${MODEL} (${c.nLayer} layers, width ${c.nEmbd}, vocab ${c.nVocab}), ${GEN} decoded tokens per run, WASM CPU kernels (1 thread) on every peer`);
  console.log('peers: Node, in this process, linked to the companion (head) over libp2p WebSockets + Noise + yamux on 127.0.0.1');
  console.log('(the head embeds and computes the logits; each stage is a round trip head → stage → head, so a k-way split has 2k one-way hops per token)');

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
      const hops = 2 * ways;
      // Means here: the parts of a token's time add up only as means.
      const transport = r.mean - r.headMs - r.stageMs;
      console.log(`${ways}-way   decode p50 ${ms(r.p50)} ms/token (${(1000 / r.p50).toFixed(1)} tok/s), greedy agreement with solo ${r.agree}/${GEN}`);
      console.log(`        mean per token ${ms(r.mean)} ms: head embed+logits ${ms(r.headMs)} ms, stages' compute ${ms(r.stageMs)} ms, links and framing ${ms(transport)} ms over ${hops} hops`);
      console.log(`        link RTT p50: ${ms(r.rtt)} ms (32 B), ${ms(r.rttFrame)} ms (one ${40 + 4 * c.nEmbd}-byte frame); one-way ${ms(r.rtt / 2)} ms`);
      console.log(`        hop overhead beyond one-way latency: ${ms(transport / hops - r.rtt / 2)} ms; vs solo: ${ms((r.p50 - soloP50) / hops - r.rtt / 2)} ms`);
      console.log(`        join: ${ways} peers started → ready ${ways}-stage plan in ${(r.joinMs / 1000).toFixed(2)} s (layer loads ${r.loadMs.map((x) => `${x} ms`).join(', ')}); WebRTC upgrade: n/a in Node (WebSockets links)`);
    }
  } finally {
    await mesh.stop();
  }
  const hop = median(rows.map((r) => (r.mean - r.headMs - r.stageMs) / (2 * r.ways) - r.rtt / 2));
  const ratio = (r: Split) => (soloP50 / r.p50).toFixed(2);
  const join = Math.max(...rows.map((r) => r.joinMs)) / 1000;
  console.log(`mesh: 2way/solo=${ratio(rows[0])} 3way/solo=${ratio(rows[1])} hop_overhead_ms=${hop.toFixed(2)} join_s=${join.toFixed(2)}`);
  process.exit(0);
}

await main();
