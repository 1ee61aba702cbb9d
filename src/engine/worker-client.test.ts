// The inference worker end to end in Node (a worker_thread running workers/inference-worker.ts behind
// the page's WorkerEngine client): results equal to the in-process Engine, load progress, coded errors
// for bad GGUFs with the worker surviving them, cancellation, sessions with rollback, stage-only hosts.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../../tools/models/registry.ts';
import { MessageChannel } from 'node:worker_threads';
import { expose } from 'comlink';
import { Engine } from './engine.ts';
import { GREEDY } from './sampler.ts';
import { synthModelBytes } from './testing/synthetic-models.ts';
import { WorkerEngine, type WorkerLike } from './worker-client.ts';
import { startNodeInferenceWorker } from './testing/worker-node.ts';
import type { LoadProgress } from '../protocol/engine-worker.ts';
import { MeshError } from '../protocol/errors.ts';

let path: string;
let worker: WorkerEngine;
let local: Engine;
const PROMPT = 'Once upon a time, in a land far away';

beforeAll(async () => {
  path = await ensureModel('tiny-llama-q8_0');
  worker = await startNodeInferenceWorker();
  local = await Engine.load(path, { backend: 'cpu' });
});
afterAll(async () => {
  worker?.terminate();
  await local?.close();
});

const bytesOf = (p: string) => {
  const b = readFileSync(p);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
};

/** Bit-for-bit comparison without toEqual's cost on 32,000-float rows. */
function differing(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(MeshError);
    expect((e as Error).message.length).toBeGreaterThan(20);
    return (e as MeshError).code;
  }
  throw new Error('expected a rejection');
}

describe('inference worker', () => {
  it('loads with progress, picks cpu, and tokenizes, scores and generates exactly as the in-process engine', async () => {
    const progress: LoadProgress[] = [];
    const info = await worker.load(path, { backend: 'auto', threads: 1, onProgress: (p) => progress.push(p) });
    expect(info).toMatchObject({ backend: 'cpu', threads: 1, nLayer: 2, stageOnly: false });
    expect(progress.at(-1)?.phase).toBe('ready');
    const sizes = progress.map((p) => p.bytesLoaded);
    expect(sizes).toEqual([...sizes].sort((a, b) => a - b));
    expect(progress.at(-1)!.bytesTotal).toBe(readFileSync(path).byteLength);
    expect(progress.at(-1)!.bytesLoaded).toBeGreaterThan(0.9 * progress.at(-1)!.bytesTotal!);

    const ids = await worker.tokenize(PROMPT);
    expect(ids).toEqual(local.tokenize(PROMPT));
    expect(await worker.detokenize(ids.slice(1))).toBe(PROMPT);
    expect(await worker.logits(ids, 5)).toEqual(await local.logits(ids, 5));

    const req = { promptTokens: ids, maxTokens: 8, sampling: { temperature: 0.8, seed: 42 } };
    const remote = [];
    for await (const ev of worker.generate(req)) remote.push(ev);
    const inProcess = [];
    for await (const ev of local.generate(req)) inProcess.push(ev);
    expect(remote).toEqual(inProcess);
    expect(remote.at(-1)!.type).toBe('done');
  });

  it('sessions extend, roll back and free in the worker', async () => {
    const bytes = bytesOf(path);
    await worker.load(bytes, { backend: 'cpu' });
    expect(bytes.byteLength).toBe(0); // moved into the worker, not copied
    const ids = local.tokenize(PROMPT);
    const s = await worker.createSession();
    const all = await s.extend(ids);
    expect(all.length).toBe(ids.length * local.config.nVocab);
    expect(await s.length()).toBe(ids.length);
    await s.truncate(3);
    const again = await s.extend(ids.slice(3), { logits: 'last' });
    // The same calls on an in-process session give the same floats.
    const mine = local.createSession();
    expect(differing(await mine.extend(ids), all)).toBe(0);
    mine.truncate(3);
    expect(differing(await mine.extend(ids.slice(3), { logits: 'last' }), again)).toBe(0);
    mine.free();
    await s.free();
    expect(await code(s.length())).toBe('worker_unknown_session');
  });

  it('bad GGUFs give coded errors and the worker loads the next model', async () => {
    const good = synthModelBytes({ nLayer: 2 });
    const at = findTensorEntry(good, 'token_embd.weight');
    const patched = (patch: (v: DataView) => void) => {
      const copy = good.slice();
      patch(new DataView(copy.buffer));
      return copy.buffer;
    };
    const cases: [ArrayBuffer, string][] = [
      [new TextEncoder().encode('not a gguf at all, just some text').buffer as ArrayBuffer, 'gguf_bad_magic'],
      [good.slice(0, good.length - 1000).buffer, 'gguf_truncated'],
      [patched((v) => v.setUint32(at + 20, 77, true)), 'gguf_unsupported_type'], // unknown tensor type
      [patched((v) => v.setBigUint64(at + 4, 1n << 40n, true)), 'gguf_corrupt'], // absurd dimension
      [patched((v) => v.setBigUint64(at + 24, 1n << 30n, true)), 'gguf_truncated'], // offset past the end
      [patched((v) => v.setBigUint64(at + 24, 4n, true)), 'gguf_corrupt'], // misaligned offset
    ];
    for (const [bytes, want] of cases) {
      expect(await code(worker.load(bytes, { backend: 'cpu' })), want).toBe(want);
      expect(await code(worker.tokenize('x'))).toBe('worker_no_model');
    }
    const info = await worker.load(good.slice().buffer, { backend: 'cpu' });
    expect(info.nLayer).toBe(2);
    const s = await worker.createSession();
    expect((await s.extend([1, 2, 3], { logits: 'last' })).length).toBe(info.nVocab);
  });

  it('an aborted generation rejects with AbortError and the worker keeps serving', async () => {
    await worker.load(path, { backend: 'cpu' });
    const ids = local.tokenize(PROMPT);
    const controller = new AbortController();
    let seen = 0;
    const run = async () => {
      for await (const ev of worker.generate({ promptTokens: ids, maxTokens: 1000, sampling: GREEDY, signal: controller.signal })) {
        if (ev.type === 'token' && ++seen === 3) controller.abort();
      }
    };
    await expect(run()).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen).toBeLessThan(100);
    expect(await worker.tokenize(PROMPT)).toEqual(ids);
    // Leaving the loop early stops the worker's generation too: the next call is answered at once.
    for await (const ev of worker.generate({ promptTokens: ids, maxTokens: 100_000, sampling: GREEDY })) if (ev.type === 'token') break;
    const t0 = performance.now();
    expect(await worker.tokenize(PROMPT)).toEqual(ids);
    expect(performance.now() - t0).toBeLessThan(2000);
    // Already aborted: refused without reaching the worker.
    await expect(worker.logits(ids, 2, AbortSignal.abort())).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('hosts a single layer range: two stage workers give the whole model hidden states', async () => {
    const bytes = synthModelBytes({ nLayer: 3 });
    const whole = await Engine.load(bytes, { backend: 'cpu' });
    const pipe = (whole as unknown as { pipeline: { head: { embed(ids: number[]): Promise<Float32Array> } } }).pipeline;
    const hidden = await pipe.head.embed([1, 5, 9, 2]);
    const wholeStage = await Engine.load(bytes, { backend: 'cpu', split: '0:1,1:3' });
    const second = await startNodeInferenceWorker();
    try {
      const a = await worker.load(bytes.slice().buffer, { backend: 'cpu', stage: [0, 1] });
      const b = await second.load(bytes.slice().buffer, { backend: 'cpu', stage: [1, 3] });
      expect([a.stageOnly, a.ranges, b.ranges]).toEqual([true, [[0, 1]], [[1, 3]]]);
      expect(await code(worker.tokenize('x'))).toBe('worker_wrong_role');
      const sa = await worker.createSession(),
        sb = await second.createSession();
      const out = await sb.extend(await sa.extend(hidden));
      // The same two ranges in one process, via the engine's own stages.
      const stages = (wholeStage as unknown as { pipeline: { stages: { createSession(): { extend(h: Float32Array, n: number): Promise<Float32Array> } }[] } })
        .pipeline.stages;
      let want = hidden;
      for (const st of stages) want = await st.createSession().extend(want, 4);
      expect(differing(out, want)).toBe(0);
      expect(await code(sa.extend([1, 2]))).toBe('worker_bad_request');
    } finally {
      second.terminate();
      await whole.close();
      await wholeStage.close();
    }
  });

  it('refuses a worker speaking another protocol version, and a dead worker fails pending calls', async () => {
    const { port1, port2 } = new MessageChannel();
    expose({ hello: () => ({ protocol: 999 }) }, port2 as never);
    const fake: WorkerLike = {
      postMessage: (m, t) => port1.postMessage(m, t as never),
      addEventListener: (type, l) => {
        if (type === 'message') port1.on('message', (data) => l({ data }));
      },
      removeEventListener: () => {},
      terminate: () => {
        port1.close();
        port2.close();
      },
    };
    expect(await code(WorkerEngine.create(fake))).toBe('worker_protocol_mismatch');

    const w = await startNodeInferenceWorker();
    const pending = w.load(path, { backend: 'cpu' });
    w.terminate();
    expect(await code(pending)).toBe('worker_closed');
    expect(await code(w.tokenize('x'))).toBe('worker_closed');
  });
});

/** Byte offset just past a tensor's name in the GGUF directory: n_dims u32, dims u64×2, type u32, offset u64 follow. */
function findTensorEntry(bytes: Uint8Array, name: string): number {
  const needle = new TextEncoder().encode(name);
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  for (let i = 8; i < bytes.length - needle.length; i++) {
    if (view.getBigUint64(i - 8, true) === BigInt(needle.length) && needle.every((b, k) => bytes[i + k] === b)) return i + needle.length;
  }
  throw new Error(`no tensor ${name}`);
}
