// bench:spec's 2-way split: the head (the companion's mesh node, with the target's engine for embedding,
// logits and drafting) and two Node server peers holding half the layers each, chained, every link
// through a forwarder that adds DELAY_MS each way (20 ms round trip; netem is absent). The delay is
// measured on each link with an echo stream before the decode runs. Plain and speculative answers of
// each prompt go back to back through the same mesh; tokens are compared.
import type { PeerNode } from '../../src/mesh/net/peer-node.ts';
import type { Engine } from '../../src/engine/engine.ts';
import { fileSource } from '../../src/engine/file-source.ts';
import { openModel } from '../../src/engine/model.ts';
import { headProviderFor } from '../../src/mesh/pipeline/mesh-provider.ts';
import { startDelayForwarder, freePort, type DelayForwarder } from '../../src/mesh/testing/delay-forwarder.ts';
import { budgetFor, routeOf, startCoordinator, startServerPeer, startTestMesh } from '../../src/mesh/testing/test-mesh.ts';
import { DEFAULT_SAMPLING } from '../../src/protocol/generation.ts';
import { EngineProvider } from '../../src/provider/engine-provider.ts';
import type { SpeculativeConfig } from '../../src/provider/speculative-mode.ts';
import { median } from './stats.ts';
import { openEchoStream, ping, serveEcho, type Libp2pNode } from './echo.ts';

const DELAY_MS = 10;

export interface MeshSpecRun {
  tokens: number[];
  tokS: number;
  accepted: number;
  passes: number;
}

export interface MeshSpecBench {
  /** Median round trip (ms) of a 32-byte echo over head→s1, s1→s2, head→s2. */
  readonly rtts: number[];
  /** Runs `prompt` plain (no drafter) or speculatively through the split. */
  run(prompt: number[], gen: number, speculative?: SpeculativeConfig): Promise<MeshSpecRun>;
  stop(): Promise<void>;
}

async function echoRtt(from: Libp2pNode, to: string): Promise<number> {
  const lp = await openEchoStream(from, to);
  const times: number[] = [];
  for (let i = 0; i < 20; i++) times.push(await ping(lp, 32));
  await lp.stream.close().catch(() => {});
  return median(times.slice(5));
}

export async function startMeshSpecBench(modelId: string, path: string, engine: Engine): Promise<MeshSpecBench> {
  const forwarders: DelayForwarder[] = [];
  const mesh = await startTestMesh({
    dialAt: async (address) => {
      const port = Number(/\/tcp\/(\d+)\//.exec(address)![1]);
      const f = await startDelayForwarder(port, DELAY_MS);
      forwarders.push(f);
      return address.replace(`/tcp/${port}/`, `/tcp/${f.port}/`);
    },
  });
  const coordinator = startCoordinator(mesh, modelId, engine.model);
  const peers: PeerNode[] = [];
  for (let i = 0; i < 2; i++) {
    const listen = await freePort();
    const f = await startDelayForwarder(listen, DELAY_MS);
    forwarders.push(f);
    const half = Math.ceil(engine.config.nLayer / 2);
    peers.push(
      await startServerPeer(mesh, async () => openModel(await fileSource(path)), budgetFor(engine.model, half), undefined, true, {
        listen: [`/ip4/127.0.0.1/tcp/${listen}/ws`],
        announce: [`/ip4/127.0.0.1/tcp/${f.port}/ws`],
      }),
    );
  }
  const { plan } = await routeOf(coordinator, 2, 60_000);
  const [s1, s2] = plan.stages.map((s) => peers.find((p) => p.snapshot().peerId === s.peerId)!);
  for (const p of peers) await serveEcho(p.node!);
  const head = mesh.libp2p as unknown as Libp2pNode;
  // The chain's own streams opened the s1→s2 link; one answer through the mesh opens every link.
  const providers = new Map<string, Awaited<ReturnType<typeof headProviderFor>>>();
  const providerFor = async (speculative?: SpeculativeConfig) => {
    const key = speculative?.drafter ?? 'plain';
    let p = providers.get(key);
    if (!p) {
      p = await headProviderFor(engine, {
        node: mesh.companion.node,
        coordinator,
        fallback: new EngineProvider([{ id: modelId, engine }]),
        stageTimeoutMs: 30_000,
        ...(speculative ? { speculative } : {}),
      });
      providers.set(key, p);
    }
    return p;
  };
  const run = async (prompt: number[], gen: number, speculative?: SpeculativeConfig): Promise<MeshSpecRun> => {
    const provider = await providerFor(speculative);
    const g = await provider.generate({
      model: modelId,
      promptTokens: prompt,
      sampling: { ...DEFAULT_SAMPLING, temperature: 0 },
      maxTokens: gen,
      signal: new AbortController().signal,
    });
    const tokens: number[] = [];
    let firstAt = 0;
    for await (const t of g.tokens) {
      tokens.push(t);
      if (tokens.length === 1) firstAt = performance.now();
    }
    const s = g.speculative;
    return {
      tokens,
      tokS: (tokens.length - 1) / ((performance.now() - firstAt) / 1000),
      accepted: s?.accepted ?? 0,
      passes: (s as { passes?: number } | undefined)?.passes ?? 0,
    };
  };
  await run(prompt0(engine), 4); // opens the chain's links
  const rtts = [await echoRtt(head, s1.snapshot().peerId), await echoRtt(s1.node!, s2.snapshot().peerId), await echoRtt(head, s2.snapshot().peerId)];
  return {
    rtts,
    run,
    async stop() {
      coordinator.stop();
      for (const p of peers) await p.stop().catch(() => {});
      await mesh.stop();
      for (const f of forwarders) await f.stop();
    },
  };
}

const prompt0 = (engine: Engine) => engine.tokenize('warm up');
