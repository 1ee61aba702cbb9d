import { describe, expect, it } from 'vitest';
import type { ByteSource } from '../gguf/reader.ts';
import { memorySource } from '../gguf/byte-source.ts';
import { openModel, type ModelFile } from './model.ts';
import { openPipeline, parseSplit, type LayerRange } from './pipeline.ts';
import { openStage } from './stage.ts';
import { synthModel, synthModelBytes, type SynthOptions } from './testing/synthetic-models.ts';

const ids = [3, 17, 5, 5, 40, 1, 22, 9, 31];

async function logitsOf(model: ModelFile, ranges?: LayerRange[], tokens = ids): Promise<Float32Array> {
  const p = await openPipeline(model, ranges);
  return p.createSession().forward(tokens);
}

function expectClose(a: Float32Array, b: Float32Array, tol = 1e-5): void {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  expect(worst).toBeLessThanOrEqual(tol);
}

const variants: [string, SynthOptions][] = [
  ['llama', {}],
  ['llama with llama3 rope factors', { ropeFreqs: true }],
  ['qwen2 (QKV bias, tied output)', { arch: 'qwen2', tied: true }],
  ['qwen3 (q/k norm)', { arch: 'qwen3' }],
  ['mixture of experts', { experts: { count: 4, used: 2 } }],
];

describe('split execution', () => {
  for (const [label, opts] of variants) {
    it(`${label}: 2 and 3 stages give the same logits as the whole model, bit for bit`, async () => {
      const model = await synthModel(opts);
      const whole = await logitsOf(model);
      expect(whole.length).toBe(ids.length * model.config.nVocab);
      expect(whole.every(Number.isFinite)).toBe(true);
      expect(
        await logitsOf(model, [
          [0, 1],
          [1, 3],
        ]),
      ).toEqual(whole);
      expect(await logitsOf(model, parseSplit('0:1,1:2,2:3', 3))).toEqual(whole);
    });
  }

  it('decoding one token at a time matches one batched prefill', async () => {
    const model = await synthModel();
    const batch = await logitsOf(model);
    const s = (
      await openPipeline(model, [
        [0, 2],
        [2, 3],
      ])
    ).createSession();
    const parts = [await s.forward(ids.slice(0, 4))];
    for (const id of ids.slice(4)) parts.push(await s.forward([id]));
    expect(s.length).toBe(ids.length);
    const stepwise = new Float32Array(batch.length);
    let o = 0;
    for (const p of parts) {
      stepwise.set(p, o);
      o += p.length;
    }
    expectClose(stepwise, batch);
  });

  it('truncate rolls back: re-extending gives what a fresh session gives', async () => {
    const model = await synthModel();
    const p = await openPipeline(model, [
      [0, 1],
      [1, 3],
    ]);
    const s = p.createSession();
    await s.forward(ids);
    s.truncate(5);
    expect(s.length).toBe(5);
    const other = [7, 8, 9];
    const resumed = await s.forward(other);
    const fresh = await logitsOf(model, undefined, [...ids.slice(0, 5), ...other]);
    expectClose(resumed, fresh.subarray(5 * model.config.nVocab));
  });

  it('sessions of one stage keep separate caches', async () => {
    const model = await synthModel();
    const p = await openPipeline(model);
    const a = p.createSession(),
      b = p.createSession();
    const a1 = await a.forward(ids.slice(0, 3));
    await b.forward([1, 2, 3, 4, 5, 6]);
    const a2 = await a.forward(ids.slice(3));
    expect(b.length).toBe(6);
    const whole = await logitsOf(model);
    expectClose(new Float32Array([...a1, ...a2]), whole);
  });

  it('an f16 KV cache stays close to the exact one', async () => {
    const model = await synthModel();
    const exact = await logitsOf(model);
    const half = await (await openPipeline(model)).createSession({ kvPrecision: 'f16' }).forward(ids);
    expect(half).not.toEqual(exact);
    expectClose(half, exact, 1e-2);
  });
});

describe('stage errors', () => {
  it('refuses layer ranges outside the model or not covering it', async () => {
    const model = await synthModel();
    await expect(openStage(model, 2, 4)).rejects.toMatchObject({ code: 'engine_bad_range' });
    await expect(openStage(model, 1, 1)).rejects.toMatchObject({ code: 'engine_bad_range' });
    await expect(
      openPipeline(model, [
        [0, 1],
        [2, 3],
      ]),
    ).rejects.toMatchObject({ code: 'engine_bad_range' });
    expect(() => parseSplit('0:2', 3)).toThrow(/end at 2/);
    expect(() => parseSplit('0-3', 3)).toThrow(/half-open/);
  });

  it('says clearly when the context is full, a session is freed, or inputs are wrong', async () => {
    const model = await synthModel();
    const p = await openPipeline(model);
    const s = p.createSession({ maxPositions: 8 });
    await expect(s.forward(ids)).rejects.toMatchObject({ code: 'engine_context_overflow' });
    expect(s.length).toBe(0); // a refused batch leaves the session as it was
    await expect(s.forward([model.config.nVocab])).rejects.toMatchObject({ code: 'engine_bad_input' });
    const stage = p.stages[0].createSession();
    await expect(stage.extend(new Float32Array(5), 1)).rejects.toMatchObject({ code: 'engine_bad_input' });
    expect(() => stage.truncate(1)).toThrow(/cannot truncate/);
    s.free();
    await expect(s.forward([1])).rejects.toMatchObject({ code: 'engine_session_freed' });
  });
});

describe('weight loading', () => {
  it("a stage reads only its own layers' tensors", async () => {
    const bytes = synthModelBytes({ nLayer: 4 });
    const inner = memorySource(bytes);
    const reads: [number, number][] = [];
    const counting: ByteSource = {
      size: inner.size,
      read: (o, n) => {
        reads.push([o, n]);
        return inner.read(o, n);
      },
    };
    const model = await openModel(counting);
    const headerReads = reads.length;
    await openStage(model, 2, 3);
    const layerReads = reads.slice(headerReads);
    const inLayer2 = model.header.tensors.filter((t) => t.name.startsWith('blk.2.'));
    expect(layerReads.length).toBe(inLayer2.length);
    for (const [o, n] of layerReads) {
      expect(inLayer2.some((t) => t.fileOffset === o && t.byteSize === n)).toBe(true);
    }
  });
});
