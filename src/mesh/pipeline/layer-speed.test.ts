import { describe, expect, it } from 'vitest';
import { openModel } from '../../engine/model.ts';
import { synthModelBytes } from '../../engine/testing/synthetic-models.ts';
import { memorySource } from '../../gguf/byte-source.ts';
import { measureLayerSpeed } from './layer-speed.ts';

describe('layer speed', () => {
  it('is higher for a narrower layer on the same kernels', async () => {
    const narrow = await openModel(memorySource(synthModelBytes({ nLayer: 2, nEmbd: 32, nFf: 64, nVocab: 48, seed: 1 })));
    const wide = await openModel(memorySource(synthModelBytes({ nLayer: 2, nEmbd: 256, nFf: 1024, nVocab: 48, seed: 1 })));
    const [a, b] = [await measureLayerSpeed(narrow, 1), await measureLayerSpeed(wide, 1)];
    expect(a).toBeGreaterThan(0);
    expect(Number.isFinite(a)).toBe(true);
    // About 60× the multiply-adds per token: only a very generous bound, as the machine may be busy.
    expect(a).toBeGreaterThan(b * 3);
  });
});
