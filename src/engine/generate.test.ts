// The generation loop against a scripted session: end-of-generation tokens, max tokens, stop
// strings across tokens, partial UTF-8, a full context, abort. The tokenizer is a real one.
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../../tools/models/registry.ts';
import { readGgufHeader } from '../gguf/reader.ts';
import { Tokenizer } from '../tokenizer/tokenizer.ts';
import { fileSource } from './file-source.ts';
import { generateTokens, type GenerateEvent, type GenerateRequest } from './generate.ts';
import type { InferenceSession } from './session.ts';

let tok: Tokenizer;
const N_VOCAB = 32000;

beforeAll(async () => {
  const src = await fileSource(await ensureModel('tiny-llama-f32'));
  tok = Tokenizer.fromMetadata((await readGgufHeader(src)).metadata);
  await src.close();
});

/** A session whose every logits row makes the next scripted token the clear argmax. */
function scripted(script: number[], maxPositions = 100): InferenceSession & { calls: number[][] } {
  const held: number[] = [];
  const calls: number[][] = [];
  return {
    calls,
    get tokens() {
      return held;
    },
    get length() {
      return held.length;
    },
    maxPositions,
    async extend(tokens) {
      if (held.length + tokens.length > maxPositions) throw new Error('overflow in fake');
      calls.push([...tokens]);
      held.push(...tokens);
      const row = new Float32Array(N_VOCAB);
      row[script[calls.length - 1]] = 10;
      return row;
    },
    truncate(n) {
      held.length = n;
    },
    free() {},
  };
}

async function collect(session: InferenceSession, req: Partial<GenerateRequest>) {
  const events: GenerateEvent[] = [];
  for await (const e of generateTokens(session, tok, { promptTokens: [1, 15043], maxTokens: 10, sampling: { temperature: 0 }, ...req })) events.push(e);
  const tokens = events.flatMap((e) => (e.type === 'token' ? [e.token] : []));
  const text = events.map((e) => e.text).join('');
  const done = events.at(-1)!;
  if (done.type !== 'done') throw new Error('no done event');
  return { events, tokens, text, done };
}

const ids = (text: string) => tok.tokenize(text, { addSpecial: false });

describe('generation loop', () => {
  it('stops after an end-of-generation token, which is reported but adds no text', async () => {
    const [hello, world] = ids('Hello world');
    const eos = tok.special.eos;
    expect(tok.isEog(eos)).toBe(true);
    const r = await collect(scripted([hello, world, eos, hello]), {});
    expect(r.tokens).toEqual([hello, world, eos]);
    expect(r.text).toBe(' Hello world');
    expect(r.done).toMatchObject({ finishReason: 'stop', usage: { promptTokens: 2, completionTokens: 3 } });
  });

  it('stops at max tokens: the prompt is prefilled once, and the last token is never run', async () => {
    const s = scripted(ids('one two three four five six'));
    const r = await collect(s, { maxTokens: 4 });
    expect(r.tokens.length).toBe(4);
    expect(r.text).toBe(' one two three four');
    expect(r.done.finishReason).toBe('length');
    expect(s.calls).toEqual([[1, 15043], ...r.tokens.slice(0, 3).map((t) => [t])]);
    expect((await collect(scripted([5]), { maxTokens: 0 })).tokens).toEqual([]);
  });

  it('a stop string across token boundaries ends generation; it and what follows are not returned', async () => {
    const r = await collect(scripted(ids('Hello world again and again')), { stop: ['lo wor'] });
    expect(r.text).toBe(' Hel');
    expect(r.tokens.length).toBe(2);
    expect(r.done.finishReason).toBe('stop');
    // A held-back possible start is released when generation ends without completing it.
    const partial = await collect(scripted(ids('Hello world')), { stop: ['world peace'], maxTokens: 2 });
    expect(partial.text).toBe(' Hello world');
    expect(partial.done.finishReason).toBe('length');
  });

  it('releases a multi-byte character only when its last byte-fallback token arrives', async () => {
    const bytes = ['<0xE4>', '<0xBD>', '<0xA0>'].map((t) => tok.tokenId(t)!);
    const r = await collect(scripted(bytes), { maxTokens: 3 });
    expect(r.events.slice(0, 3).map((e) => e.text)).toEqual(['', '', '你']);
  });

  it('a full context ends generation with "length"; a prompt that cannot fit is a clear error', async () => {
    const r = await collect(scripted(ids('one two three four five six'), 4), {});
    expect(r.tokens.length).toBe(3); // 2 prompt + 2 fed back fill 4 positions; the third token ends it
    expect(r.done.finishReason).toBe('length');
    await expect(collect(scripted([5], 1), {})).rejects.toMatchObject({
      code: 'engine_context_overflow',
      message: /prompt has 2 tokens but the context holds 1/,
    });
  });

  it('abort rejects the iteration with an AbortError', async () => {
    const ac = new AbortController();
    const seen: number[] = [];
    const run = async () => {
      for await (const e of generateTokens(scripted(ids('one two three four')), tok, {
        promptTokens: [1],
        maxTokens: 10,
        sampling: { temperature: 0 },
        signal: ac.signal,
      })) {
        if (e.type === 'token') {
          seen.push(e.token);
          ac.abort();
        }
      }
    };
    await expect(run()).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen.length).toBe(1);
  });

  it('refuses an empty prompt and a bad max tokens', async () => {
    await expect(collect(scripted([5]), { promptTokens: [] })).rejects.toMatchObject({ code: 'engine_bad_input' });
    await expect(collect(scripted([5]), { maxTokens: -1 })).rejects.toThrow(/maxTokens/);
  });
});
