import { describe, expect, it } from 'vitest';
import { parseGgufHeader } from '../gguf/reader.ts';
import { synthModelBytes } from '../engine/testing/synthetic-models.ts';
import { modelMemory, stageBytes } from './layer-memory.ts';
import { planLayers } from './planner.ts';

describe('layer memory from the GGUF tensor directory', () => {
  it('splits a model into per-layer, head, tail and shared bytes that add up to the file', () => {
    const header = parseGgufHeader(synthModelBytes({ nLayer: 4 }));
    const m = modelMemory(header);
    expect(m.layerCount).toBe(4);
    const total = header.tensors.reduce((n, t) => n + t.byteSize, 0);
    expect(m.layerBytes.reduce((a, b) => a + b, 0) + m.headBytes + m.tailBytes + m.sharedBytes).toBe(total);
    const embd = header.tensors.find((t) => t.name === 'token_embd.weight')!.byteSize;
    const output = header.tensors.find((t) => t.name === 'output.weight')!.byteSize;
    expect(m.headBytes).toBe(embd);
    expect(m.tailBytes).toBeGreaterThan(output);
    for (let i = 0; i < 4; i++) {
      expect(m.layerBytes[i]).toBe(header.tensors.filter((t) => t.name.startsWith(`blk.${i}.`)).reduce((n, t) => n + t.byteSize, 0));
    }
    expect(m.layerExpertBytes.every((b) => b === 0)).toBe(true);
    expect(stageBytes(m, 0, 4, true, true)).toBe(total);
  });

  it('charges the tail for the embedding when the output is tied to it, and finds expert tensors', () => {
    const tied = modelMemory(parseGgufHeader(synthModelBytes({ nLayer: 2, tied: true })));
    expect(tied.tailBytes).toBeGreaterThan(tied.headBytes);
    const moe = modelMemory(parseGgufHeader(synthModelBytes({ nLayer: 2, experts: { count: 4, used: 2 } })));
    expect(moe.layerExpertBytes[0]).toBeGreaterThan(0);
    expect(moe.layerExpertBytes[0]).toBeLessThan(moe.layerBytes[0]);
  });

  it('lets a small budget force a real model file to split', () => {
    const m = modelMemory(parseGgufHeader(synthModelBytes({ nLayer: 6 })));
    const whole = stageBytes(m, 0, 6, true, true);
    const peers = ['A', 'B', 'C'].map((c) => ({
      peerId: `12D3KooW${c}`.padEnd(52, 'x'),
      role: 'server' as const,
      memoryBudgetBytes: Math.ceil(whole / 2),
      layerTokensPerSecond: 10,
      rttMs: 1,
    }));
    const result = planLayers({ ...m, id: 'synth' }, peers);
    expect(result.ok && result.plan.stages.length).toBe(3);
  });
});
