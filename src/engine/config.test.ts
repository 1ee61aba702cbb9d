import { describe, expect, it } from 'vitest';
import { parseGgufHeader } from '../gguf/reader.ts';
import { gguf, type GgufMetaValue } from '../gguf/writer.ts';
import { modelConfig } from './config.ts';
import { synthModelBytes, type SynthOptions } from './testing/synthetic-models.ts';

const configOf = (o: SynthOptions = {}, extra: [string, GgufMetaValue][] = []) => modelConfig(parseGgufHeader(synthModelBytes({ ...o, extraMetadata: extra })));

describe('model config from GGUF metadata', () => {
  it('reads a llama: shapes, eps, normal RoPE over the whole head, no scaling', () => {
    const c = configOf();
    expect(c).toMatchObject({ arch: 'llama', nLayer: 3, nEmbd: 32, nHead: 4, nHeadKv: 2, headDim: 8, nFf: 64, nVocab: 48, nCtxTrain: 256, nExpert: 0 });
    expect(c.normEps).toBeCloseTo(1e-6, 12);
    expect(c.attnScale).toBeCloseTo(1 / Math.sqrt(8), 7);
    expect(c.rope).toMatchObject({ mode: 'normal', nRot: 8, freqBase: 10000, freqScale: 1, extFactor: 0, attnFactor: 1, nCtxOrig: 256 });
  });

  it('qwen2 and qwen3 rotate halves (NEOX)', () => {
    expect(configOf({ arch: 'qwen2' }).rope.mode).toBe('neox');
    expect(configOf({ arch: 'qwen3' }).rope).toMatchObject({ mode: 'neox', freqBase: 1000000 });
  });

  it('linear scaling divides frequencies by the factor; "none" ignores it', () => {
    expect(
      configOf({}, [
        ['llama.rope.scaling.type', gguf.string('linear')],
        ['llama.rope.scaling.factor', gguf.f32(4)],
      ]).rope.freqScale,
    ).toBe(0.25);
    expect(configOf({}, [['llama.rope.scale_linear', gguf.f32(2)]]).rope.freqScale).toBe(0.5);
    expect(
      configOf({}, [
        ['llama.rope.scaling.type', gguf.string('none')],
        ['llama.rope.scaling.factor', gguf.f32(4)],
      ]).rope.freqScale,
    ).toBe(1);
  });

  it('YaRN turns on extrapolation mixing with the original context', () => {
    const c = configOf({}, [
      ['llama.rope.scaling.type', gguf.string('yarn')],
      ['llama.rope.scaling.factor', gguf.f32(4)],
      ['llama.rope.scaling.original_context_length', gguf.u32(64)],
    ]);
    expect(c.rope).toMatchObject({ extFactor: 1, freqScale: 0.25, nCtxOrig: 64, betaFast: 32, betaSlow: 1 });
    // llama.cpp's attn_factor cancels the magnitude ggml's rope adds back: net 1 + 0.1 ln 4 in rope.
    expect(c.rope.attnFactor).toBeCloseTo(1, 6);
  });

  it('reads MoE expert counts and rope dimension count', () => {
    const c = configOf({ experts: { count: 4, used: 2 } }, [['llama.rope.dimension_count', gguf.u32(4)]]);
    expect(c).toMatchObject({ nExpert: 4, nExpertUsed: 2 });
    expect(c.rope.nRot).toBe(4);
  });

  it('refuses unsupported architectures and scaling with a clear error', () => {
    const bytes = synthModelBytes({ extraMetadata: [] });
    const h = parseGgufHeader(bytes);
    h.metadata.set('general.architecture', 'gpt2');
    expect(() => modelConfig(h)).toThrow(/architecture "gpt2" is not supported; this engine runs llama, qwen2, qwen3/);
    expect(() => configOf({}, [['llama.rope.scaling.type', gguf.string('longrope')]])).toThrow(/longrope/);
    expect(() => configOf({}, [['llama.rope.scaling.type', gguf.string('weird')]])).toThrow(/scaling.type is "weird"/);
  });

  it('names a missing required key', () => {
    const h = parseGgufHeader(synthModelBytes());
    h.metadata.delete('llama.attention.layer_norm_rms_epsilon');
    expect(() => modelConfig(h)).toThrow(/llama.attention.layer_norm_rms_epsilon is missing/);
  });
});
