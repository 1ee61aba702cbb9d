// The tab-attach validators: valid frames pass unchanged, tokenizer metadata survives the wire, and
// hundreds of malformed frames (bad JSON, wrong types, missing fields, out-of-range numbers, wrong
// version, prototype keys, oversized lists) are each rejected with a reason, never thrown.
import { describe, expect, it } from 'vitest';
import { DEFAULT_SAMPLING } from './generation.ts';
import {
  decodeTokenizerMetadata,
  encodeTokenizerMetadata,
  readCompanionMessage,
  readTabMessage,
  TAB_ATTACH_VERSION,
  type CompanionMessage,
  type TabMessage,
} from './tab-attach.ts';

const tokenizer = {
  'tokenizer.ggml.model': 'llama',
  'tokenizer.ggml.tokens': ['<unk>', '<s>', '</s>', 'a'],
  'tokenizer.ggml.scores': { typed: 'f32' as const, values: [0, 0, 0, -1.5] },
  'tokenizer.ggml.token_type': { typed: 'i32' as const, values: [2, 3, 3, 1] },
  'tokenizer.ggml.add_bos_token': true,
  'tokenizer.ggml.bos_token_id': 1,
};
const hello: TabMessage = { type: 'hello', version: TAB_ATTACH_VERSION, tab: 'my-tab', models: [{ id: 'tiny', contextLength: 256, layers: 2, tokenizer }] };
const generate: CompanionMessage = {
  type: 'generate',
  id: 'r1',
  model: 'tiny',
  promptTokens: [1, 3, 3],
  maxTokens: 8,
  sampling: { ...DEFAULT_SAMPLING, temperature: 0, seed: 7 },
  window: 4,
};

const validTab: TabMessage[] = [
  hello,
  { type: 'token', id: 'r1', token: 3 },
  { type: 'done', id: 'r1' },
  { type: 'error', id: 'r1', code: 'engine_context_overflow', message: 'full' },
];
const validCompanion: CompanionMessage[] = [
  { type: 'welcome', version: TAB_ATTACH_VERSION, peer: 'tab-my-tab' },
  generate,
  { type: 'pull', id: 'r1', n: 1 },
  { type: 'abort', id: 'r1' },
  { type: 'error', code: 'malformed', message: 'bad' },
  { type: 'error', id: 'r1', code: 'malformed', message: 'bad' },
];

describe('tab-attach frames', () => {
  it('accepts valid frames as they are', () => {
    for (const m of validTab) expect(readTabMessage(JSON.stringify(m))).toEqual({ ok: true, value: m });
    for (const m of validCompanion) expect(readCompanionMessage(JSON.stringify(m))).toEqual({ ok: true, value: m });
  });

  it('carries tokenizer metadata across the wire with its array types', () => {
    const meta = new Map<string, unknown>([
      ['general.name', 'dropped: not a tokenizer key'],
      ['tokenizer.ggml.tokens', ['a', 'b']],
      ['tokenizer.ggml.scores', new Float32Array([0.5, -2])],
      ['tokenizer.ggml.token_type', new Int32Array([1, 3])],
      ['tokenizer.ggml.eos_token_id', 2],
      ['tokenizer.ggml.add_bos_token', false],
      ['tokenizer.chat_template', '{{ x }}'],
    ]);
    const wire = JSON.parse(JSON.stringify(encodeTokenizerMetadata(meta)));
    expect(wire['general.name']).toBeUndefined();
    const back = decodeTokenizerMetadata(wire);
    expect(back.get('tokenizer.ggml.scores')).toEqual(new Float32Array([0.5, -2]));
    expect(back.get('tokenizer.ggml.token_type')).toBeInstanceOf(Int32Array);
    expect([...back.keys()].sort()).toEqual([...meta.keys()].filter((k) => k.startsWith('tokenizer.')).sort());
    expect(back.get('tokenizer.chat_template')).toBe('{{ x }}');
  });

  it('names the version mismatch', () => {
    const r = readTabMessage(JSON.stringify({ ...hello, version: 2 }));
    expect(r).toMatchObject({ ok: false, code: 'unsupported_version' });
    expect(!r.ok && r.reason).toMatch(/reload the app/);
  });

  it('rejects at least 200 malformed frames, each with a reason and without throwing', () => {
    const bad: unknown[] = [
      null,
      42,
      '',
      '{',
      '[]',
      'null',
      '"hello"',
      '{"type":"hello"}',
      '{"type":"nope"}',
      new Uint8Array([1, 2]),
      JSON.stringify(hello).replace('{', '{"__proto__":{"x":1},'),
      '{"type":"token","id":"r1","token":1,"__proto__":{}}',
    ];
    // every field of every valid frame replaced with wrong values, or removed
    const wrong: unknown[] = [null, -1, 1.5, 1e12, 'x', '', true, [], {}, [1, 'a'], 'a b c', '\u0000', 'x'.repeat(5000)];
    const mutate = (m: Record<string, unknown>) => {
      for (const key of Object.keys(m)) {
        if (key === 'type') continue;
        const { [key]: _, ...without } = m;
        bad.push(JSON.stringify(without));
        for (const w of wrong) {
          // a well-formed string is a valid id, code or message: only the ones those fields must refuse
          if (typeof m[key] === 'string' && typeof w === 'string' && !/[ \u0000]|^$|x{100}/.test(w)) continue;
          if (key === 'message' && typeof w === 'string' && w.length < 2000) continue;
          bad.push(JSON.stringify({ ...m, [key]: w }));
        }
      }
    };
    for (const m of validTab) mutate(m as unknown as Record<string, unknown>);
    const model = hello.models[0] as unknown as Record<string, unknown>;
    for (const key of Object.keys(model)) for (const w of [null, -3, 'x y', {}, []]) bad.push(JSON.stringify({ ...hello, models: [{ ...model, [key]: w }] }));
    bad.push(JSON.stringify({ ...hello, models: [{ ...model, tokenizer: { 'general.name': 'x' } }] }));
    bad.push(JSON.stringify({ ...hello, models: [{ ...model, tokenizer: { 'tokenizer.ggml.scores': { typed: 'u8', values: [300] } } }] }));
    bad.push(JSON.stringify({ ...hello, models: [{ ...model, tokenizer: { 'tokenizer.ggml.scores': { typed: 'f99', values: [] } } }] }));
    bad.push(JSON.stringify({ ...hello, models: [{ ...model, tokenizer: { 'tokenizer.ggml.tokens': ['a', 1] } }] }));
    bad.push(JSON.stringify({ ...hello, models: Array.from({ length: 9 }, () => model) }));
    for (const key of Object.keys(tokenizer)) {
      for (const w of [null, {}, [1, 'a'], { typed: 'f32', values: ['x'] }, { typed: 'i8', values: [1000] }, { values: [1] }]) {
        bad.push(JSON.stringify({ ...hello, models: [{ ...model, tokenizer: { ...tokenizer, [key]: w } }] }));
      }
    }
    // truncated frames
    const whole = JSON.stringify(hello);
    for (let i = 1; i < 20; i++) bad.push(whole.slice(0, Math.floor((whole.length * i) / 20)));

    for (const frame of bad) {
      const r = readTabMessage(frame);
      expect(r.ok, String(frame).slice(0, 300)).toBe(false);
      if (!r.ok) expect(r.reason.length).toBeGreaterThan(5);
    }
    expect(bad.length).toBeGreaterThanOrEqual(200);

    const badCompanion: unknown[] = [];
    for (const m of validCompanion) {
      for (const key of Object.keys(m)) {
        if (key === 'type' || key === 'message' || key === 'code' || key === 'peer') continue;
        for (const w of [null, -1, 1.5, 'x y', {}, [], [-1], [1.5]]) badCompanion.push(JSON.stringify({ ...m, [key]: w }));
      }
    }
    for (const key of Object.keys(generate.sampling)) badCompanion.push(JSON.stringify({ ...generate, sampling: { ...generate.sampling, [key]: 'hot' } }));
    for (const frame of badCompanion) expect(readCompanionMessage(frame).ok, String(frame)).toBe(false);
  });
});
