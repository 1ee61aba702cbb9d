// `npm run bench:stage-check`: what stage checks cost. The benchmark model (bench-llama-q8_0, 8
// layers) split across two server peers in this Node process (WASM stages, WebSockets on
// 127.0.0.1), the head on the WASM kernels too; the same greedy answer decoded unchecked and checked,
// alternately, --runs times each, in chain topology. Decode time is first token to last (the prefill
// left out); the head's shadow compute is counted apart (the checker's own clock).
//
// By default everything runs on this process's main thread, so the shadow's compute lands on the
// decode time in full; with --peers-thread the stages run in a worker thread of their own, beside
// the head, as on a real mesh (on this 2-core machine they still share its cores).
//
// Last line: stage-check: unchecked_ms=U checked_ms=C ratio=R shadow_ms=S checks=K false_alarms=A
// (ms per decoded token, medians; ratio = checked / unchecked).
import { Worker } from 'node:worker_threads';
import { computeFor } from '../../src/engine/backend.ts';
import { Engine } from '../../src/engine/engine.ts';
import { fileSource } from '../../src/engine/file-source.ts';
import type { ComputeOptions } from '../../src/engine/model.ts';
import { openModel } from '../../src/engine/model.ts';
import { openStage } from '../../src/engine/stage.ts';
import type { PeerNode } from '../../src/mesh/net/peer-node.ts';
import { headProviderFor, type MeshProvider } from '../../src/mesh/pipeline/mesh-provider.ts';
import { StageChecker } from '../../src/mesh/pipeline/stage-check.ts';
import { budgetFor, routeOf, startCoordinator, startServerPeer, startTestMesh } from '../../src/mesh/testing/test-mesh.ts';
import { DEFAULT_SAMPLING } from '../../src/protocol/generation.ts';
import { EngineProvider } from '../../src/provider/engine-provider.ts';
import { ensureModel } from '../models/registry.ts';
import { median } from './stats.ts';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const MODEL = opt('model', 'bench-llama-q8_0');
const GEN = Number(opt('gen', '64'));
const RUNS = Number(opt('runs', '3'));
const TOPOLOGY = opt('topology', 'chain') as 'chain' | 'star';
/** The stages in a worker thread of their own, computing beside the head (as on a real mesh). */
const PEERS_THREAD = args.includes('--peers-thread');

const path = await ensureModel(MODEL);
const engine = await Engine.load(path, { backend: 'cpu' });
const c = engine.model.config;
const mesh = await startTestMesh();
const coordinator = startCoordinator(mesh, MODEL, engine.model);
const peers: PeerNode[] = [];
let worker: Worker | undefined;
try {
  const budget = budgetFor(engine.model, Math.ceil(c.nLayer / 2));
  if (PEERS_THREAD) {
    const w = new Worker(new URL('./stage-peers-worker.ts', import.meta.url), { workerData: { token: mesh.companion.token, path, budget, count: 2 } });
    worker = w;
    await new Promise<void>((resolve, reject) => {
      w.once('message', () => resolve());
      w.once('error', reject);
    });
  } else for (let i = 0; i < 2; i++) peers.push(await startServerPeer(mesh, async () => openModel(await fileSource(path)), budget));
  const route = await routeOf(coordinator, 2, 120_000);
  console.log(
    `plan: ${route.plan.stages.map((s) => `[${s.layers.start}-${s.layers.end - 1}]`).join(' → ')} (${TOPOLOGY}${PEERS_THREAD ? ', stages in a worker thread' : ''}), ${GEN} tokens a run, ${RUNS} runs each`,
  );
  let kernels: Promise<ComputeOptions> | undefined;
  const checker = new StageChecker({
    openRange: async (first, end) => openStage(engine.model, first, end, await (kernels ??= computeFor('cpu'))),
    probe: () => engine.headAndTail.head.embed(Array.from({ length: 32 }, (_, i) => (i * 7919 + 13) % c.nVocab)),
    width: c.nEmbd,
    backend: 'wasm',
  });
  const fallback = new EngineProvider([{ id: MODEL, engine }]);
  const base = { node: mesh.companion.node, coordinator, fallback, topology: TOPOLOGY };
  const unchecked = await headProviderFor(engine, base);
  const checked = await headProviderFor(engine, { ...base, checker });
  const prompt = Array.from({ length: 16 }, (_, i) => (i * 131 + 7) % c.nVocab);

  /** ms per decoded token (first token to last), and the tokens. */
  async function decode(provider: MeshProvider): Promise<{ ms: number; tokens: number[] }> {
    const gen = await provider.generate({
      model: MODEL,
      promptTokens: prompt,
      sampling: { ...DEFAULT_SAMPLING, temperature: 0 },
      maxTokens: GEN,
      signal: new AbortController().signal,
      stream: true,
    });
    const tokens: number[] = [];
    let first = 0;
    for await (const t of gen.tokens) {
      if (tokens.length === 0) first = performance.now();
      tokens.push(t);
    }
    return { ms: (performance.now() - first) / Math.max(1, tokens.length - 1), tokens };
  }

  await decode(unchecked); // warm-up: streams, kernels, the shadow's weights
  await decode(checked);
  const times = { unchecked: [] as number[], checked: [] as number[] };
  let shadowBefore = checker.status().computeMs;
  const shadow: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const u = await decode(unchecked);
    const k = await decode(checked);
    if (k.tokens.join() !== u.tokens.join()) throw new Error('the checked answer differs from the unchecked one');
    times.unchecked.push(u.ms);
    times.checked.push(k.ms);
    const now = checker.status().computeMs;
    shadow.push((now - shadowBefore) / k.tokens.length);
    shadowBefore = now;
    console.log(`run ${r + 1}: unchecked ${u.ms.toFixed(2)} ms/token, checked ${k.ms.toFixed(2)} ms/token, shadow ${shadow.at(-1)!.toFixed(2)} ms/token`);
  }
  const s = checker.status();
  const u = median(times.unchecked);
  const k = median(times.checked);
  console.log(
    `stage-check: unchecked_ms=${u.toFixed(2)} checked_ms=${k.toFixed(2)} ratio=${(k / u).toFixed(3)} shadow_ms=${median(shadow).toFixed(2)} checks=${s.checks} false_alarms=${s.mismatches}`,
  );
} finally {
  coordinator.stop();
  for (const p of peers) await p.stop().catch(() => {});
  if (worker) {
    const w = worker;
    w.postMessage('stop');
    await new Promise((resolve) => w.once('message', resolve));
    await w.terminate();
  }
  await mesh.stop();
  await engine.close();
}
process.exit(0);
