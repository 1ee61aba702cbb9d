import { describe, expect, it } from 'vitest';
import { decodeActivationFrame, encodeActivationFrame, frameFloats, FRAME_HEADER_BYTES, type ActivationFrame } from '../protocol/mesh-activation-frame.ts';
import type { GossipMessage } from '../protocol/mesh-messages.ts';
import { mulberry32 } from '../testing/mulberry32.ts';
import { decodeGossip, encodeGossip, SequenceFilter } from './gossip-messages.ts';

const A = '12D3KooWNMr2dcVqZnAvKCSDKY1p94TnBRNcdcNQnRLXhXqyX87n';
const B = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo';
const envelope = { protocol: 1, peerId: A, seq: 7, sentAt: 1_800_000_000_000 };
const plan = {
  model: 'tiny-llama-f32',
  layerCount: 8,
  epoch: 3,
  mode: 'pipeline',
  stages: [
    { peerId: A, layers: { start: 0, end: 5 }, shard: { kind: 'dense' } },
    { peerId: B, layers: { start: 5, end: 8 }, shard: { kind: 'dense' } },
  ],
  head: A,
  tail: B,
  excluded: [],
};
const valid: GossipMessage[] = [
  {
    type: 'peer-state',
    ...envelope,
    role: 'server',
    backend: 'wasm',
    memoryBudgetBytes: 1 << 30,
    layerTokensPerSecond: 812.5,
    rttMs: 3.2,
    models: [{ model: 'tiny-llama-f32', layers: { start: 0, end: 5 } }],
    activeSessions: 1,
  },
  { type: 'demand', ...envelope, model: 'tiny-llama-f32', queuedRequests: 2, activeSessions: 1, servedTokensPerSecond: 40 },
  { type: 'layer-plan', ...envelope, plan } as GossipMessage,
  { type: 'stage-activate', ...envelope, target: B, model: 'tiny-llama-f32', planEpoch: 3, layers: { start: 5, end: 8 }, shard: { kind: 'dense' } },
  { type: 'stage-ready', ...envelope, model: 'tiny-moe', planEpoch: 3, layers: { start: 0, end: 2 }, shard: { kind: 'experts', start: 0, end: 4, count: 8 } },
  // A plan with what it was computed from (its basis), for servers to verify.
  {
    type: 'layer-plan',
    ...envelope,
    plan,
    basis: {
      peers: [{ peerId: A, role: 'server', memoryBudgetBytes: 900, layerTokensPerSecond: 220, rttMs: 3 }],
      previous: { ...plan, epoch: 2 },
      rttCapMs: 250,
      perLayerExtraBytes: 0,
      countsHeadTail: false,
    },
  } as GossipMessage,
];

describe('gossip messages', () => {
  it('accepts each well-formed type, round-tripped through bytes', () => {
    for (const message of valid) expect(decodeGossip(encodeGossip(message), A)).toEqual({ ok: true, value: message });
  });

  it('rejects a message whose claimed sender is not the signer, and a newer protocol with the version reason', () => {
    expect(decodeGossip(encodeGossip(valid[0]), B)).toMatchObject({ ok: false, code: 'binding_mismatch' });
    const newer = new TextEncoder().encode(JSON.stringify({ ...valid[1], protocol: 2, extra: 'new field' }));
    expect(decodeGossip(newer, A)).toMatchObject({ ok: false, code: 'unsupported_version', reason: expect.stringContaining('update') });
  });

  it('carries the measured link throughput of a peer and of a basis peer, optional for peers that predate it', () => {
    const state = { ...valid[0], linkBytesPerSecond: 4.7e6 } as GossipMessage;
    expect(decodeGossip(encodeGossip(state), A)).toEqual({ ok: true, value: state });
    const bytes = (m: object) => new TextEncoder().encode(JSON.stringify(m));
    expect(decodeGossip(bytes({ ...state, linkBytesPerSecond: -1 }), A)).toMatchObject({ ok: false, reason: expect.stringMatching(/linkBytesPerSecond/) });
    expect(decodeGossip(bytes({ ...state, linkBytesPerSecond: 'fast' }), A)).toMatchObject({ ok: false });
    const withBasis = valid[5] as Extract<GossipMessage, { type: 'layer-plan' }>;
    const basis = { ...withBasis.basis!, peers: [{ ...withBasis.basis!.peers[0], linkBytesPerSecond: 4.7e6 }] };
    expect(decodeGossip(encodeGossip({ ...withBasis, basis }), A)).toEqual({ ok: true, value: { ...withBasis, basis } });
    expect(decodeGossip(bytes({ ...withBasis, basis: { ...basis, peers: [{ ...basis.peers[0], linkBytesPerSecond: Infinity }] } }), A)).toMatchObject({
      ok: false,
    });
  });

  it('carries the backend each held stage runs on, optional for peers that predate it', () => {
    const state = valid[0] as Extract<GossipMessage, { type: 'peer-state' }>;
    const held = (models: unknown) => decodeGossip(new TextEncoder().encode(JSON.stringify({ ...state, models })), A);
    const gpu = [{ model: 'tiny-llama-f32', layers: { start: 0, end: 5 }, backend: 'webgpu' }];
    expect(held(gpu)).toEqual({ ok: true, value: { ...state, models: gpu } });
    expect(held([{ model: 'tiny-llama-f32', layers: { start: 0, end: 5 } }])).toEqual({ ok: true, value: state });
    expect(held([{ model: 'tiny-llama-f32', backend: 'cuda' }])).toMatchObject({ ok: false, reason: expect.stringContaining('backend') });
  });

  it("rejects a plan whose basis is malformed (the planner's inputs are checked like the plan)", () => {
    const withBasis = valid[5] as Extract<GossipMessage, { type: 'layer-plan' }>;
    const bad = (basis: unknown) => decodeGossip(new TextEncoder().encode(JSON.stringify({ ...withBasis, basis })), A);
    expect(bad({ ...withBasis.basis, peers: [{ peerId: A, role: 'server', memoryBudgetBytes: -1, layerTokensPerSecond: 1, rttMs: 1 }] })).toMatchObject({
      ok: false,
    });
    expect(bad({ ...withBasis.basis, previous: { ...plan, stages: [] } })).toMatchObject({ ok: false });
    expect(bad({ ...withBasis.basis, countsHeadTail: 'no' })).toMatchObject({ ok: false });
    expect(bad('basis')).toMatchObject({ ok: false });
  });

  it('drops replayed and reordered messages per sender and type', () => {
    const filter = new SequenceFilter();
    expect(filter.accept(valid[0])).toBe(true);
    expect(filter.accept(valid[0])).toBe(false);
    expect(filter.accept({ ...valid[0], seq: 6 })).toBe(false);
    expect(filter.accept(valid[1])).toBe(true);
    expect(filter.accept({ ...valid[0], seq: 8 })).toBe(true);
    filter.forget(A);
    expect(filter.accept(valid[0])).toBe(true);
  });

  it('rejects 1,000 malformed messages cleanly, with a reason and no prototype pollution', () => {
    const random = mulberry32(2026);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
    const wrongValues: unknown[] = [null, true, -1, 1.5, 1e308, '', 'x'.repeat(5000), [], [1, 2], {}, { __proto__: null }];
    const text = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));
    const mutants: Array<() => Uint8Array> = [
      // Random bytes, and truncated valid messages.
      () => Uint8Array.from({ length: Math.floor(random() * 300) }, () => Math.floor(random() * 256)),
      () => {
        const bytes = encodeGossip(pick(valid));
        return bytes.slice(0, Math.floor(random() * (bytes.length - 1)));
      },
      // A required field of the wrong type, or missing.
      () => {
        const m: Record<string, unknown> = { ...pick(valid) };
        const key = pick(Object.keys(m));
        const original = m[key];
        m[key] = pick(wrongValues.filter((v) => typeof v !== typeof original || Array.isArray(v) !== Array.isArray(original)));
        return text(m);
      },
      () => {
        const m: Record<string, unknown> = { ...pick(valid) };
        delete m[pick(Object.keys(m))];
        return text(m);
      },
      // Huge arrays and strings.
      () => text({ ...valid[0], models: Array.from({ length: 5000 }, () => ({ model: 'm' })) }),
      () =>
        text({
          ...valid[2],
          plan: { ...plan, stages: Array.from({ length: 3000 }, (_, i) => ({ peerId: A, layers: { start: i, end: i + 1 }, shard: { kind: 'dense' } })) },
        }),
      () => text({ ...valid[1], model: 'm'.repeat(100_000) }),
      // Prototype-pollution keys at the top, in nested objects, and in the plan.
      () => text(`{"__proto__":{"polluted":1},${JSON.stringify(pick(valid)).slice(1)}`),
      () => text(`${JSON.stringify(pick(valid)).slice(0, -1)},"constructor":{"prototype":{"polluted":1}}}`),
      () => text(JSON.stringify(valid[0]).replace('"layers":{', '"layers":{"__proto__":{"polluted":1},')),
      () => text(JSON.stringify(valid[2]).replace('"shard":{', '"shard":{"__proto__":{"polluted":1},')),
      // Semantically wrong: inverted and out-of-range layers, plans with gaps, bad experts, bad ids.
      () => text({ ...valid[3], layers: { start: 6, end: 5 } }),
      () => text({ ...valid[2], plan: { ...plan, stages: [plan.stages[0], { ...plan.stages[1], layers: { start: 6, end: 8 } }] } }),
      () => text({ ...valid[2], plan: { ...plan, head: B } }),
      () => text({ ...valid[2], plan: { ...plan, mode: 'solo' } }),
      () => text({ ...valid[4], shard: { kind: 'experts', start: 4, end: 9, count: 8 } }),
      () => text({ ...valid[3], target: 'not a peer id' }),
      () => text({ ...pick(valid), seq: -1 }),
      () => text({ ...pick(valid), type: 'shutdown' }),
      () => text(`${'['.repeat(5000)}${']'.repeat(5000)}`),
      () => text(pick([null, 1, '"x"', '[]', 'true'])),
    ];
    const codes = new Set(['malformed', 'too_large', 'forbidden_key', 'unsupported_version', 'binding_mismatch']);
    for (let i = 0; i < 1000; i++) {
      const kind = i % mutants.length;
      const bytes = mutants[kind]();
      let result: ReturnType<typeof decodeGossip> | undefined;
      expect(() => (result = decodeGossip(bytes, A)), `mutant ${kind} #${i}`).not.toThrow();
      expect(result, `mutant ${kind} #${i} was accepted: ${new TextDecoder().decode(bytes.slice(0, 300))}`).toMatchObject({ ok: false });
      const r = result as unknown as { code: string; reason: string };
      expect(codes.has(r.code), r.code).toBe(true);
      expect(r.reason.length).toBeGreaterThan(5);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('activation frames', () => {
  const frame = (): ActivationFrame => ({
    dtype: 'f32',
    sessionId: Uint8Array.from({ length: 16 }, (_, i) => i + 1),
    planEpoch: 3,
    position: 17,
    tokenCount: 2,
    width: 3,
    payload: new Uint8Array(Float32Array.from([1, 2, 3, 4, 5, -6]).buffer),
  });

  it('round-trips, reading floats even from an unaligned buffer', () => {
    const bytes = encodeActivationFrame(frame());
    const decoded = decodeActivationFrame(bytes);
    expect(decoded).toMatchObject({ ok: true, value: { dtype: 'f32', planEpoch: 3, position: 17, tokenCount: 2, width: 3 } });
    if (!decoded.ok) return;
    expect([...decoded.value.sessionId]).toEqual([...frame().sessionId]);
    expect([...frameFloats(decoded.value)]).toEqual([1, 2, 3, 4, 5, -6]);
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    const unaligned = decodeActivationFrame(shifted.subarray(1));
    expect(unaligned.ok && [...frameFloats(unaligned.value)]).toEqual([1, 2, 3, 4, 5, -6]);
  });

  it('carries the exact-rows flag of a verification batch, and only that flag', () => {
    const exact = decodeActivationFrame(encodeActivationFrame({ ...frame(), exact: true }));
    expect(exact).toMatchObject({ ok: true, value: { exact: true } });
    const plain = decodeActivationFrame(encodeActivationFrame(frame()));
    expect(plain.ok && plain.value.exact).toBeFalsy();
    const unknown = encodeActivationFrame(frame());
    unknown[6] = 3;
    expect(decodeActivationFrame(unknown)).toMatchObject({ ok: false, reason: 'unknown frame flags' });
  });

  it('rejects 1,000 malformed frames cleanly', () => {
    const random = mulberry32(7);
    const good = encodeActivationFrame(frame());
    const set32 = (offset: number, value: number) => {
      const b = good.slice();
      new DataView(b.buffer).setUint32(offset, value, true);
      return b;
    };
    const mutants: Array<() => unknown> = [
      () => Uint8Array.from({ length: Math.floor(random() * 200) }, () => Math.floor(random() * 256)),
      () => good.slice(0, Math.floor(random() * (good.length - 1))),
      () => {
        const b = new Uint8Array(good.length + 1 + Math.floor(random() * 8));
        b.set(good);
        return b;
      },
      () => set32(32, 0),
      () => set32(32, 0xffffffff),
      () => set32(36, 0x40000000),
      () => set32(28, 0xfffffffe),
      () => {
        const b = good.slice();
        const at = 1 + Math.floor(random() * 7);
        // flag bit 0 alone is a valid frame (exact rows): flip at least one other bit of the flags
        b[at] ^= at === 6 ? 2 + Math.floor(random() * 254) : 1 + Math.floor(random() * 255);
        return b;
      },
      () => pick([null, 'frame', [1, 2, 3], new ArrayBuffer(64), { length: 64 }]),
    ];
    function pick<T>(items: readonly T[]): T {
      return items[Math.floor(random() * items.length)];
    }
    for (let i = 0; i < 1000; i++) {
      const input = mutants[i % mutants.length]();
      let result: ReturnType<typeof decodeActivationFrame> | undefined;
      expect(() => (result = decodeActivationFrame(input))).not.toThrow();
      expect(result, `mutant ${i % mutants.length}`).toMatchObject({ ok: false });
    }
    expect(FRAME_HEADER_BYTES).toBe(40);
  });
});
