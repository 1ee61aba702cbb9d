// Mixture-of-experts hyperparameters as llama.cpp's qwen2moe/qwen3moe loaders read them.
import { describe, expect, it } from 'vitest';
import { parseGgufHeader } from '../gguf/reader.ts';
import { gguf, type GgufMetaValue } from '../gguf/writer.ts';
import { modelConfig } from './config.ts';
import { synthModelBytes, type SynthOptions } from './testing/synthetic-models.ts';

const configOf = (o: SynthOptions = {}, extra: [string, GgufMetaValue][] = []) => modelConfig(parseGgufHeader(synthModelBytes({ ...o, extraMetadata: extra })));
const experts = { count: 8, used: 2 };

describe('MoE config', () => {
  it('qwen2moe: expert width defaults to n_ff / n_expert_used, the shared expert to n_ff; no renormalisation', () => {
    expect(configOf({ arch: 'qwen2moe', experts })).toMatchObject({ nExpert: 8, nExpertUsed: 2, nFfExp: 32, nFfShexp: 64, expertWeightsNorm: false });
    const c = configOf({ arch: 'qwen2moe', experts }, [
      ['qwen2moe.expert_feed_forward_length', gguf.u32(16)],
      ['qwen2moe.expert_shared_feed_forward_length', gguf.u32(48)],
    ]);
    expect(c).toMatchObject({ nFfExp: 16, nFfShexp: 48 });
    expect(c.rope.mode).toBe('neox');
  });

  it('qwen3moe: no shared expert, renormalised top-k, expert width from its key', () => {
    expect(configOf({ arch: 'qwen3moe', experts }, [['qwen3moe.expert_feed_forward_length', gguf.u32(24)]])).toMatchObject({
      nFfExp: 24,
      nFfShexp: 0,
      expertWeightsNorm: true,
    });
  });

  it('Mixtral (llama) experts are n_ff wide and renormalised', () => {
    expect(configOf({ experts })).toMatchObject({ nFfExp: 64, nFfShexp: 0, expertWeightsNorm: true });
  });

  it('refuses a qwen MoE without experts, or more experts used than exist', () => {
    expect(() => configOf({ arch: 'qwen3moe' })).toThrow(/expert_count/);
    expect(() => configOf({ arch: 'qwen2moe', experts: { count: 2, used: 4 } })).toThrow(/exceeds/);
  });
});
