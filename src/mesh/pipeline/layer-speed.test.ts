import { describe, expect, it } from 'vitest';
import { openModel } from '../../engine/model.ts';
import { synthModelBytes } from '../../engine/testing/synthetic-models.ts';
import { memorySource } from '../../gguf/byte-source.ts';
import { measureLayerSpeed } from './layer-speed.ts';
import { inProcessStageRunner } from './stage-runner.ts';

describe('layer speed', () => {
  it('is higher for a narrower layer on the same kernels, and counts per layer', async () => {
    const models = {
      narrow: synthModelBytes({ nLayer: 2, nEmbd: 32, nFf: 64, nVocab: 48, seed: 1 }),
      wide: synthModelBytes({ nLayer: 2, nEmbd: 256, nFf: 1024, nVocab: 48, seed: 1 }),
    };
    const runner = inProcessStageRunner({ openModel: (id) => openModel(memorySource(models[id as keyof typeof models])) });
    const narrow = await runner.open('narrow', { start: 1, end: 2 }, 'wasm');
    expect(narrow.backend).toBe('wasm');
    // More and longer rounds than a peer uses (the best of them counts): the test machine is shared
    // with a whole test run, and a busy spell in the few rounds of one measure skewed the ratios 6×.
    const steady = { rounds: 8, roundMs: 25 };
    const a = await measureLayerSpeed(narrow, steady);
    const b = await measureLayerSpeed(await runner.open('wide', { start: 1, end: 2 }, 'wasm'), steady);
    expect(a).toBeGreaterThan(0);
    expect(Number.isFinite(a)).toBe(true);
    // About 60× the multiply-adds per token: only a very generous bound, as the machine may be busy.
    expect(a).toBeGreaterThan(b * 3);
    // Two layers take about twice as long per token as one, so the per-layer speed stays about the same.
    const both = await measureLayerSpeed(await runner.open('wide', { start: 0, end: 2 }, 'wasm'), steady);
    expect(both).toBeGreaterThan(b / 3);
    expect(both).toBeLessThan(b * 3);
  });
});
