// `npm run soak`: the mesh under churn, a lying stage and strangers, on loopback, for a few minutes
// (never more than 10). The companion's mesh and pipeline head (it holds the model, as the companion
// does, and checks its stages) over three honest server peers, tiny-llama-4l-f32 split in plans of
// two layers a stage. While non-streamed chat requests flow one after another (each answer compared
// with one machine's), the soak
// - stops an honest peer and starts it again (same identity) --kills times (default 20);
// - brings in a lying stage (×1.01 from its fourth frame of a session) under a fresh identity
//   every few kills, which the stage checks must catch;
// - links --fakes libp2p nodes with random keys that are not members (default 200), each opening the
//   membership protocol and writing garbage, which the companion must refuse (fake_peers counts the
//   strangers it refused) and survive.
// Uncaught exceptions and unhandled rejections are counted (as crashes) and the soak goes on.
//
// Last line: soak: requests=N failed=F wrong=W kills=K detect_tokens_max=D false_alarms=A fake_peers=P crashes=C
// Targets: failed=0, wrong=0, kills ≥ 20, detect_tokens_max ≤ 16, false_alarms=0 (over ≥ 1000 honest
// tokens: printed above it), fake_peers ≥ 200, crashes=0.
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { webSockets } from '@libp2p/websockets';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { createApiContext } from '../../src/api/context.ts';
import { handleApiRequest } from '../../src/api/handler.ts';
import { webSocketAddress } from '../../src/companion/libp2p-node.ts';
import { computeFor } from '../../src/engine/backend.ts';
import { Engine } from '../../src/engine/engine.ts';
import { fileSource } from '../../src/engine/file-source.ts';
import { type ComputeOptions, openModel } from '../../src/engine/model.ts';
import { openStage } from '../../src/engine/stage.ts';
import { createIdentity, type MeshIdentity } from '../../src/mesh/identity.ts';
import type { PeerNode } from '../../src/mesh/net/peer-node.ts';
import { MEMBERSHIP_PROTOCOL } from '../../src/mesh/net/protocols.ts';
import { headProviderFor } from '../../src/mesh/pipeline/mesh-provider.ts';
import { StageChecker } from '../../src/mesh/pipeline/stage-check.ts';
import { corruptingCompute } from '../../src/mesh/testing/corrupting-stage.ts';
import { budgetFor, routeOf, startCoordinator, startServerPeer, startTestMesh } from '../../src/mesh/testing/test-mesh.ts';
import { EngineProvider } from '../../src/provider/engine-provider.ts';
import { ensureModel } from '../models/registry.ts';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const MODEL = 'tiny-llama-4l-f32';
const KILLS = Number(opt('kills', '20'));
const FAKES = Number(opt('fakes', '200'));
const LIAR_EVERY = Number(opt('liar-every', '5'));
const KILL_EVERY_MS = Number(opt('kill-every-s', '6')) * 1000;
const LIMIT_MS = Math.min(10 * 60_000, Number(opt('limit-s', '540')) * 1000);
const PROMPTS = ['Tell me a story about a fox.', 'What is a mesh?', 'Name three rivers.', 'Why is the sky blue?', 'Count to ten.', 'Write a haiku.'];

const counts = { requests: 0, failed: 0, wrong: 0, kills: 0, fakePeers: 0, refused: 0, crashes: 0, tokens: 0, viaMesh: 0 };
process.on('uncaughtException', (error) => {
  counts.crashes++;
  console.error(`soak: uncaught exception: ${error.stack ?? error.message}`);
});
process.on('unhandledRejection', (error) => {
  counts.crashes++;
  console.error(`soak: unhandled rejection: ${(error as Error)?.stack ?? String(error)}`);
});

const started = Date.now();
const timeLeft = () => LIMIT_MS - (Date.now() - started);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const post = (body: unknown) =>
  new Request('http://soak.test/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const chat = (prompt: string) => ({ model: MODEL, messages: [{ role: 'user', content: prompt }], max_tokens: 32, temperature: 0 });

const path = await ensureModel(MODEL);
const engine = await Engine.load(path, { backend: 'cpu' });
const open = async () => openModel(await fileSource(path));
const budget = budgetFor(engine.model, 2);
// One machine's answers, each from a fresh provider (no cached prefix changes its batches).
const solo = new Map<string, string>();
for (const p of PROMPTS) {
  const res = await handleApiRequest(post(chat(p)), createApiContext({ provider: new EngineProvider([{ id: MODEL, engine }]) }));
  solo.set(p, (await res.json()).choices[0].message.content);
}

const mesh = await startTestMesh();
// --verbose: the head's and every peer's log lines, stamped with the soak's clock and who said it.
const logAs = (who: string) =>
  args.includes('--verbose') ? { log: (line: string) => console.log(`${((Date.now() - started) / 1000).toFixed(2)} s ${who} ${line}`) } : {};
// A killed peer comes back fresh: a second's cool-off (doubling while it keeps failing), not five.
const coordinator = startCoordinator(mesh, MODEL, engine.model, { failedForMs: 1000, ...logAs('head') });
const honest: { identity: MeshIdentity; peer: PeerNode | undefined }[] = [];
for (let i = 0; i < 3; i++) {
  const identity = await createIdentity();
  honest.push({ identity, peer: await startServerPeer(mesh, open, budget, undefined, true, { identity, ...logAs(identity.peerId.slice(-6)) }) });
}
await routeOf(coordinator, 2, 60_000);
let kernels: Promise<ComputeOptions> | undefined;
const checker = new StageChecker({
  openRange: async (first, end) => openStage(engine.model, first, end, await (kernels ??= computeFor('cpu'))),
  probe: () => engine.headAndTail.head.embed(Array.from({ length: 32 }, (_, i) => (i * 7919 + 13) % engine.model.config.nVocab)),
  width: engine.model.config.nEmbd,
  backend: 'wasm',
});
const provider = await headProviderFor(engine, {
  node: mesh.companion.node,
  coordinator,
  fallback: new EngineProvider([{ id: MODEL, engine }]),
  localStages: engine.stages,
  recoverTimeoutMs: 500,
  checker,
  ...logAs('head'),
});
const ctx = createApiContext({ provider });
const honestIds = new Set(honest.map((h) => h.identity.peerId));
const liars: PeerNode[] = [];
let done = false;

async function requests(): Promise<void> {
  for (let i = 0; !done; i++) {
    const prompt = PROMPTS[i % PROMPTS.length];
    counts.requests++;
    try {
      const res = await handleApiRequest(post(chat(prompt)), ctx);
      if (res.status !== 200) {
        counts.failed++;
        console.error(`soak: request ${i} answered ${res.status}: ${await res.text()}`);
        continue;
      }
      const body = await res.json();
      counts.tokens += body.usage.completion_tokens;
      // Through a plan's peers (checked), or by the head alone while no plan was ready.
      if (body.mesh?.served_by?.some((s: { check?: string }) => s.check === 'checked')) counts.viaMesh++;
      if (body.choices[0].message.content !== solo.get(prompt)) {
        counts.wrong++;
        console.error(`soak: request ${i} differs from one machine's answer (served by ${res.headers.get('x-mesh-served-by')})`);
      }
    } catch (error) {
      counts.failed++;
      console.error(`soak: request ${i} threw: ${(error as Error).message}`);
    }
  }
}

async function churn(): Promise<void> {
  for (let k = 0; k < KILLS && timeLeft() > 30_000; k++) {
    await sleep(KILL_EVERY_MS - 1000);
    const h = honest[k % honest.length];
    await h.peer?.stop();
    h.peer = undefined;
    counts.kills++;
    await sleep(1000);
    h.peer = await startServerPeer(mesh, open, budget, undefined, true, { identity: h.identity, ...logAs(h.identity.peerId.slice(-6)) });
    if (k % LIAR_EVERY === LIAR_EVERY - 1) {
      // A fresh identity each time: a quarantined liar comes back as someone new.
      for (const l of liars.splice(0)) await l.stop().catch(() => {});
      liars.push(await startServerPeer(mesh, open, budget, corruptingCompute({ mode: 'scale', after: 3 })));
    }
    console.log(
      `soak: kill ${counts.kills} (${Math.round((Date.now() - started) / 1000)} s): ${counts.requests} requests, plan ${
        coordinator
          .currentPlan()
          ?.stages.map((s) => s.peerId.slice(-4))
          .join(' → ') ?? 'none'
      }`,
    );
  }
}

async function strangers(): Promise<void> {
  const address = multiaddr(webSocketAddress(mesh.libp2p));
  // Four at a time: libp2p itself turns away more than a few new connections a second from one address.
  for (let i = 0; i < FAKES && timeLeft() > 20_000; i += 4) {
    await Promise.all(
      Array.from({ length: Math.min(4, FAKES - i) }, async () => {
        const node = await createLibp2p({ transports: [webSockets()], connectionEncrypters: [noise()], streamMuxers: [yamux()] });
        const id = node.peerId.toString();
        try {
          // The companion may hang up before the dial settles (it refuses strangers at once): that is fine.
          // libp2p turns away new inbound connections past a few a second from one address: try again after a pause.
          let connection: Awaited<ReturnType<typeof node.dial>> | undefined;
          for (let attempt = 0; attempt < 4 && !connection; attempt++) {
            if (attempt > 0) await sleep(1000 * attempt);
            connection = await node.dial(address, { signal: AbortSignal.timeout(5000) }).catch((error: unknown) => {
              if (attempt === 3) console.error(`soak: a stranger could not link: ${(error as Error).message}`);
              return undefined;
            });
          }
          if (!connection) return;
          // Garbage where a membership proof belongs: the companion must refuse it, not fall over.
          const stream = await connection.newStream(MEMBERSHIP_PROTOCOL, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
          stream?.send(crypto.getRandomValues(new Uint8Array(64)));
          const refused = () => mesh.companion.node.refusedList().some((r) => r.peerId === id);
          for (let t = 0; t < 60 && !refused(); t++) await sleep(50);
          // Counted: linked, and never a member (refused, or dropped for giving no proof).
          if (mesh.companion.node.memberList().some((m) => m.peerId === id)) console.error(`soak: stranger ${id} became a member`);
          else {
            counts.fakePeers++;
            if (refused()) counts.refused++;
          }
        } finally {
          await Promise.resolve(node.stop()).catch(() => {});
        }
      }),
    );
    await sleep(500);
  }
}

try {
  const flowing = requests();
  await Promise.all([churn(), strangers()]);
  // Enough honest tokens for the false-alarm count to mean something.
  while (counts.tokens < 1000 && timeLeft() > 10_000) await sleep(500);
  done = true;
  await flowing;
} finally {
  done = true;
  coordinator.stop();
  for (const h of honest) await h.peer?.stop().catch(() => {});
  for (const l of liars) await l.stop().catch(() => {});
  await Promise.resolve(mesh.stop()).catch(() => {});
}
const s = checker.status();
const falseAlarms = s.quarantined.filter((q) => honestIds.has(q.peerId)).length;
console.log(
  `soak: ${counts.tokens} tokens answered, ${counts.viaMesh} of ${counts.requests} requests through the mesh's peers, ${s.checks} checks, ${s.mismatches} mismatches, quarantined: ${s.quarantined.map((q) => q.peerId.slice(-6)).join(', ') || 'none'}; strangers refused with a reason: ${counts.refused}/${counts.fakePeers}`,
);
console.log(
  `soak: requests=${counts.requests} failed=${counts.failed} wrong=${counts.wrong} kills=${counts.kills} detect_tokens_max=${s.detectStepsMax} false_alarms=${falseAlarms} fake_peers=${counts.fakePeers} crashes=${counts.crashes}`,
);
process.exit(0);
