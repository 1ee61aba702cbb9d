// `npm run bench:spec`: greedy decode tokens/s of plain and speculative decoding on one machine (Node,
// the engine's 'cpu' backend), with the n-gram drafter and the draft-model drafter, on a fixed prompt
// set: repetitive or code-like prompts (a list to continue, code with repeated identifiers) and free
// text. Each prompt's plain and speculative runs go back to back after a wait for a quiet moment, so
// load hits them alike; tok/s are medians over rounds and prompts, spec/plain the median of the
// back-to-back ratios. Every speculative run's tokens are compared with the plain run's.
// The last line (spec/plain over the repetitive prompts; accept = mean accepted draft tokens per
// verification pass; the drafter with the better spec/plain):
//   spec: plain_tok_s=… spec_tok_s=… spec/plain=… accept=… greedy_equal=true|false
// The oracle lines (drafts that are the plain run's own tokens) give the ceiling verification allows.
// Then the same prompts through a 2-way split (spec-mesh.ts: head and two Node stages, 10 ms added
// each way on every link); the last line is the split's (--no-mesh: the solo lines only).
// The models are the trained pair (tools/train/MODEL_CARD.md); every run generates --gen tokens past
// an end-of-text token, as llama-bench's --ignore-eos does (the trained target ends a verse after a
// few words, and a run of 3 tokens measures nothing): the tokenizer is told no token ends generation,
// so the model reads its end-of-text token and goes on, plain and speculative alike (--stop-at-eos: off).
// Options: --model kjv-llama-16m-q8_0 --draft kjv-llama-3m-q8_0 --gen 64 --rounds 3 --threads 2 --backend cpu --k 4
// --verify-batch N (verify N rows per extend() whatever the backend's exactBatch: the gain
// batch-invariant kernels would give; greedy_equal says whether the output still held)
import type { Drafter } from '../../src/engine/drafter.ts';
import type { InferenceSession } from '../../src/engine/session.ts';
import { emptySpeculativeStats, type SpeculativeStats } from '../../src/engine/drafter.ts';
import { Engine } from '../../src/engine/engine.ts';
import { generateTokens } from '../../src/engine/generate.ts';
import { LookupFirstDrafter } from '../../src/engine/lookup-first-drafter.ts';
import { ModelDrafter } from '../../src/engine/model-drafter.ts';
import { NgramDrafter } from '../../src/engine/ngram-drafter.ts';
import { isBackendName } from '../../src/engine/backend.ts';
import { ensureModel, modelSpec } from '../models/registry.ts';
import { trainedModel } from '../models/trained.ts';
import { waitForQuiet } from './measure.ts';
import { startMeshSpecBench } from './spec-mesh.ts';
import { median } from './stats.ts';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const MODEL = opt('model', 'kjv-llama-16m-q8_0');
const DRAFT = opt('draft', 'kjv-llama-3m-q8_0');
const STOP_AT_EOS = args.includes('--stop-at-eos');
const GEN = Number(opt('gen', '64'));
const ROUNDS = Number(opt('rounds', '3'));
const THREADS = Number(opt('threads', '2'));
const BACKEND = opt('backend', 'cpu');
const K = Number(opt('k', '4'));
const VERIFY_BATCH = Number(opt('verify-batch', '0'));
/** Each prompt's runs wait (up to QUIET_WAIT_MS) for other processes to use fewer cores than this. */
const QUIET_CORES = 0.3;
const QUIET_WAIT_MS = 3000;

const REPETITIVE = [
  'Count with me: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,',
  'function add(a, b) { return a + b; }\nfunction sub(a, b) { return a - b; }\nfunction mul(a, b) { return a * b; }\nfunction div(a, b) {',
  'Shopping list:\n- apples\n- oranges\n- pears\n- apples\n- oranges\n- pears\n- apples\n- oranges\n-',
];
const FREE = [
  'The old lighthouse keeper climbed the spiral stairs every evening, counting the steps as his father had taught him,',
  'Once upon a time, in a village at the edge of a great forest, there lived a',
];

interface Run {
  tokens: number[];
  /** Decode tokens per second: tokens after the first, over the time after the first. */
  tokS: number;
  stats: SpeculativeStats;
}

/**
 * Proposes the plain run's own continuation: every draft is accepted, so its speed is the ceiling
 * verification allows on this backend, whatever a drafter's skill (not counted as a drafter below).
 */
function oracle(sequence: readonly number[]): Drafter {
  return { kind: 'oracle', draft: async (context, k) => ({ tokens: sequence.slice(context.length, context.length + k) }), free() {} };
}

async function decode(engine: Engine, prompt: number[], drafter?: Drafter): Promise<Run> {
  const created = engine.createSession();
  // --verify-batch: what batch-invariant kernels would allow (greedy_equal then says whether it held)
  const session: InferenceSession = VERIFY_BATCH > 0 ? Object.create(created, { exactBatch: { value: VERIFY_BATCH } }) : created;
  const stats = emptySpeculativeStats();
  const tokens: number[] = [];
  let firstAt = 0;
  try {
    const req = { promptTokens: prompt, maxTokens: GEN, sampling: { temperature: 0 }, ...(drafter ? { speculative: { drafter, k: K, stats } } : {}) };
    for await (const e of generateTokens(session, engine.tokenizer, req)) {
      if (e.type !== 'token') continue;
      tokens.push(e.token);
      if (tokens.length === 1) firstAt = performance.now();
    }
    const seconds = (performance.now() - firstAt) / 1000;
    return { tokens, tokS: (tokens.length - 1) / seconds, stats };
  } finally {
    created.free();
    drafter?.free();
  }
}

interface Tally {
  plain: number[];
  spec: number[];
  /** spec/plain of each (round, prompt) pair, run back to back. */
  ratios: number[];
  accepted: number;
  passes: number;
  equal: boolean;
}

/**
 * What one extend() of n tokens costs against a one-token one, at the position decoding runs at: the
 * ceiling of a verification pass's gain is n over this.
 */
async function passCosts(engine: Engine): Promise<[number, number][]> {
  const session = engine.createSession();
  const prompt = engine.tokenize(FREE[0]);
  await session.extend(prompt, { logits: 'none' });
  const sizes = [1, 2, 3, 4, 8];
  const runs = new Map<number, number[]>(sizes.map((n) => [n, []]));
  // sizes interleaved within each repetition, so a change of load hits them alike
  for (let rep = 0; rep < 30; rep++) {
    for (const n of sizes) {
      const t0 = performance.now();
      await session.extend(prompt.slice(1, 1 + n), { logits: 'all' });
      runs.get(n)!.push(performance.now() - t0);
      session.truncate(prompt.length);
    }
  }
  session.free();
  const one = median(runs.get(1)!);
  return sizes.slice(1).map((n) => [n, median(runs.get(n)!) / one]);
}

async function main(): Promise<void> {
  if (!isBackendName(BACKEND)) throw new Error(`--backend must be ref, cpu or webgpu, got ${BACKEND}`);
  const draftFor = trainedModel(DRAFT)?.draftFor ?? modelSpec(DRAFT).draftFor;
  if (draftFor !== MODEL) console.log(`note: ${DRAFT} is a draft for ${draftFor}, not ${MODEL}`);
  const target = await Engine.load(await ensureModel(MODEL), { backend: BACKEND, threads: THREADS });
  // The one tokenizer the solo runs and the split's head both ask whether a token ends generation.
  if (!STOP_AT_EOS) Object.defineProperty(target.tokenizer, 'isEog', { value: () => false });
  const draft = await Engine.load(await ensureModel(DRAFT), { backend: BACKEND, threads: THREADS });
  const probe = target.createSession();
  const exact = VERIFY_BATCH > 0 ? VERIFY_BATCH : (probe.exactBatch ?? Number.POSITIVE_INFINITY);
  probe.free();
  console.log(
    `bench:spec ${MODEL} with draft ${DRAFT}, ${BACKEND} backend, ${THREADS} threads, ${GEN} tokens, ${ROUNDS} rounds, k from ${K}, verified ${exact} rows per extend()`,
  );
  const drafters: Record<string, (plain: readonly number[]) => Drafter> = {
    ngram: () => new NgramDrafter(),
    model: () => new LookupFirstDrafter(new ModelDrafter(draft.createSession())),
    oracle: (sequence) => oracle(sequence),
  };
  const tallies = new Map<string, Tally>();
  const tally = (key: string) => {
    let t = tallies.get(key);
    if (!t) tallies.set(key, (t = { plain: [], spec: [], ratios: [], accepted: 0, passes: 0, equal: true }));
    return t;
  };
  const prompts = [...REPETITIVE.map((p) => ['repetitive', p] as const), ...FREE.map((p) => ['free', p] as const)];
  await decode(target, target.tokenize(FREE[0])); // warm-up: WASM compilation, first allocations
  for (let round = 0; round < ROUNDS; round++) {
    for (const [set, text] of prompts) {
      const prompt = target.tokenize(text);
      await waitForQuiet(QUIET_CORES, QUIET_WAIT_MS);
      const plain = await decode(target, prompt);
      for (const [name, make] of Object.entries(drafters)) {
        const spec = await decode(target, prompt, make([...prompt, ...plain.tokens]));
        const t = tally(`${name}/${set}`);
        t.plain.push(plain.tokS);
        t.spec.push(spec.tokS);
        t.ratios.push(spec.tokS / plain.tokS);
        t.accepted += spec.stats.accepted;
        t.passes += spec.stats.passes;
        t.equal &&= spec.tokens.length === plain.tokens.length && spec.tokens.every((x, i) => x === plain.tokens[i]);
      }
    }
  }
  const fmt = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : 'NaN');
  const perPass = (t: Tally) => (t.passes > 0 ? t.accepted / t.passes : 0);
  console.log(`verification cost: ${(await passCosts(target)).map(([n, x]) => `${n} rows=${fmt(x, 2)}x`).join(' ')} of a one-token step`);
  let best: { name: string; t: Tally; ratio: number } | undefined;
  for (const [key, t] of tallies) {
    const ratio = median(t.ratios);
    console.log(
      `spec-${key.replace('/', '-')}: plain_tok_s=${fmt(median(t.plain))} spec_tok_s=${fmt(median(t.spec))} spec/plain=${fmt(ratio, 2)} accept=${fmt(perPass(t), 2)} greedy_equal=${t.equal}`,
    );
    if (key.endsWith('/repetitive') && !key.startsWith('oracle') && (!best || ratio > best.ratio)) best = { name: key, t, ratio };
  }
  const allEqual = [...tallies.values()].every((t) => t.equal);
  const b = best!;
  console.log(`best drafter on the repetitive prompts: ${b.name.split('/')[0]}`);
  const solo = `plain_tok_s=${fmt(median(b.t.plain))} spec_tok_s=${fmt(median(b.t.spec))} spec/plain=${fmt(b.ratio, 2)} accept=${fmt(perPass(b.t), 2)} greedy_equal=${allEqual}`;
  if (args.includes('--no-mesh')) console.log(`spec: ${solo}`);
  else {
    console.log(`spec-solo: ${solo}`);
    await meshSplit(target, prompts, draft, fmt);
  }
  await target.close();
  await draft.close();
}

/** The 2-way split at 20 ms round trip: plain and each drafter per prompt, back to back, ROUNDS rounds. */
async function meshSplit(target: Engine, prompts: (readonly [string, string])[], draft: Engine, fmt: (x: number, d?: number) => string): Promise<void> {
  const bench = await startMeshSpecBench(MODEL, await ensureModel(MODEL), target);
  try {
    console.log(`mesh split: head→s1, s1→s2, head→s2 echo round trips ${bench.rtts.map((x) => fmt(x, 1)).join(', ')} ms (10 ms added each way)`);
    const drafters = { ngram: { drafter: 'ngram' as const, k: K }, model: { drafter: 'model' as const, draftModel: draft, k: K } };
    const tallies = new Map<string, Tally>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const [set, text] of prompts) {
        const prompt = target.tokenize(text);
        const plain = await bench.run(prompt, GEN);
        for (const [name, cfg] of Object.entries(drafters)) {
          const spec = await bench.run(prompt, GEN, cfg);
          const key = `${name}/${set}`;
          let t = tallies.get(key);
          if (!t) tallies.set(key, (t = { plain: [], spec: [], ratios: [], accepted: 0, passes: 0, equal: true }));
          t.plain.push(plain.tokS);
          t.spec.push(spec.tokS);
          t.ratios.push(spec.tokS / plain.tokS);
          t.accepted += spec.accepted;
          t.passes += spec.passes;
          t.equal &&= spec.tokens.length === plain.tokens.length && spec.tokens.every((x, i) => x === plain.tokens[i]);
        }
      }
    }
    const perPass = (t: Tally) => (t.passes > 0 ? t.accepted / t.passes : 0);
    const line = (t: Tally) =>
      `plain_tok_s=${fmt(median(t.plain))} spec_tok_s=${fmt(median(t.spec))} spec/plain=${fmt(median(t.ratios), 2)} accept=${fmt(perPass(t), 2)} greedy_equal=${t.equal}`;
    let best: [string, Tally] | undefined;
    for (const [key, t] of tallies) {
      console.log(`spec-mesh-${key.replace('/', '-')}: ${line(t)}`);
      if (key.endsWith('/repetitive') && (!best || median(t.ratios) > median(best[1].ratios))) best = [key, t];
    }
    const allEqual = [...tallies.values()].every((t) => t.equal);
    console.log(`best drafter through the split on the repetitive prompts: ${best![0].split('/')[0]}`);
    console.log(`spec: ${line(best![1]).replace(/greedy_equal=\w+/, `greedy_equal=${allEqual}`)}`);
  } finally {
    await bench.stop();
  }
}

await main();
