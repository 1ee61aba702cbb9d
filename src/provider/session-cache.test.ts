// KV reuse across a conversation's turns: the second turn evaluates only its new tokens, its greedy
// text equals a fresh session's, concurrent requests never share a session, and the cache stays bounded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../../tools/models/registry.ts';
import { Engine } from '../engine/engine.ts';
import type { InferenceSession } from '../engine/session.ts';
import { DEFAULT_SAMPLING } from '../protocol/generation.ts';
import { createApiContext } from '../api/context.ts';
import { EngineProvider } from './engine-provider.ts';
import { handleApiRequest } from '../api/handler.ts';
import { chatPromptTokens } from '../api/prompt.ts';
import type { ModelText } from './provider.ts';
import { commonPrefix, SessionCache } from './session-cache.ts';

/** A stand-in session that only tracks its tokens (the cache's bookkeeping needs nothing else). */
function fakeSession(log: string[]): InferenceSession {
  const held: number[] = [];
  return {
    get tokens() {
      return held;
    },
    get length() {
      return held.length;
    },
    maxPositions: 1000,
    async extend(tokens) {
      held.push(...tokens);
      return new Float32Array(0);
    },
    truncate(n) {
      held.length = n;
    },
    free() {
      log.push(`free:${held.join(',')}`);
    },
  };
}

describe('SessionCache', () => {
  it('gives the session with the longest shared prefix, truncated, and never the whole prompt', async () => {
    const log: string[] = [];
    const cache = new SessionCache(() => fakeSession(log), 1);
    const a = cache.take([1, 2, 3]);
    expect(a.reused).toBe(0);
    await a.session.extend([1, 2, 3, 4, 5]);
    cache.keep(a.session);
    const b = cache.take([9, 9]);
    await b.session.extend([9, 9, 8]);
    cache.keep(b.session);
    const c = cache.take([1, 2, 3, 7]);
    expect(c.session).toBe(a.session);
    expect(c.reused).toBe(3);
    expect(c.session.tokens).toEqual([1, 2, 3]);
    // taken: a second request with the same prompt cannot get it
    const d = cache.take([1, 2, 3, 7]);
    expect(d.session).not.toBe(a.session);
    expect(d.reused).toBe(0);
    // an identical prompt still leaves its last token to evaluate
    cache.keep(c.session);
    expect(cache.take([1, 2, 3]).reused).toBe(2);
  });

  it('evicts the least recently used beyond the count and byte bounds', async () => {
    const log: string[] = [];
    const cache = new SessionCache(() => fakeSession(log), 10, { maxSessions: 2, maxBytes: 100 });
    for (const t of [[1], [2], [3]]) {
      const s = cache.take(t).session;
      await s.extend(t);
      cache.keep(s);
    }
    expect(cache.size).toBe(2);
    expect(log).toEqual(['free:1']);
    const big = cache.take([4]).session;
    await big.extend([4, 4, 4, 4, 4, 4, 4, 4, 4, 4]); // 100 bytes: the two others must go
    cache.keep(big);
    expect(cache.size).toBe(1);
    expect(cache.bytes).toBe(100);
    expect(log).toEqual(['free:1', 'free:2', 'free:3']);
  });

  it('commonPrefix', () => {
    expect(commonPrefix([1, 2, 3], [1, 2, 4])).toBe(2);
    expect(commonPrefix([], [1])).toBe(0);
    expect(commonPrefix([5, 6], [5, 6, 7])).toBe(2);
  });
});

describe('EngineProvider prefix reuse on a real model', () => {
  const MODEL = 'tiny-llama-q8_0';
  let engine: Engine;
  let text: ModelText;

  beforeAll(async () => {
    engine = await Engine.load(await ensureModel(MODEL), { backend: 'cpu' });
    text = await new EngineProvider([{ id: MODEL, engine }]).modelText(MODEL);
  });
  afterAll(async () => {
    await engine?.close();
  });

  async function run(provider: EngineProvider, prompt: number[], maxTokens: number): Promise<{ tokens: number[]; cached: number }> {
    const g = await provider.generate({
      model: MODEL,
      promptTokens: prompt,
      maxTokens,
      sampling: { ...DEFAULT_SAMPLING, temperature: 0 },
      signal: new AbortController().signal,
    });
    const tokens: number[] = [];
    for await (const t of g.tokens) {
      tokens.push(t);
      if (tokens.length === maxTokens) break;
    }
    return { tokens, cached: g.cachedPromptTokens ?? 0 };
  }

  async function fresh(prompt: number[], maxTokens: number): Promise<number[]> {
    const out: number[] = [];
    for await (const e of engine.generate({ promptTokens: prompt, maxTokens, sampling: { temperature: 0 } })) if (e.type === 'token') out.push(e.token);
    return out;
  }

  it('evaluates only the new tokens of the next turn, with the same greedy tokens as a fresh run', async () => {
    const provider = new EngineProvider([{ id: MODEL, engine }]);
    const turn1 = [
      { role: 'system' as const, content: 'You are terse.' },
      { role: 'user' as const, content: 'Describe the sea.' },
    ];
    const p1 = chatPromptTokens(text, turn1);
    const r1 = await run(provider, p1, 8);
    expect(r1.cached).toBe(0);
    expect(r1.tokens).toEqual(await fresh(p1, 8));
    expect(provider.prefill).toEqual({ promptTokens: p1.length, evaluated: p1.length, reused: 0 });

    const reply = engine.tokenizer.detokenize(r1.tokens.filter((t) => !engine.tokenizer.isEog(t)));
    const turn2 = [...turn1, { role: 'assistant' as const, content: reply }, { role: 'user' as const, content: 'And the sky?' }];
    const p2 = chatPromptTokens(text, turn2);
    expect(commonPrefix(p1, p2)).toBe(p1.length); // the template renders turn 1 as a prefix of turn 2
    const r2 = await run(provider, p2, 8);
    expect(r2.cached).toBeGreaterThanOrEqual(p1.length);
    expect(provider.prefill.evaluated - p1.length).toBe(p2.length - r2.cached);
    expect(r2.tokens).toEqual(await fresh(p2, 8));

    // the same request again: everything but its last prompt token comes from the cache
    const r3 = await run(provider, p2, 8);
    expect(r3.cached).toBe(p2.length - 1);
    expect(r3.tokens).toEqual(r2.tokens);
  }, 60_000);

  it('gives concurrent requests their own sessions, each with its fresh-run tokens', async () => {
    const provider = new EngineProvider([{ id: MODEL, engine }]);
    const p = chatPromptTokens(text, [{ role: 'user', content: 'Count to three.' }]);
    await run(provider, p, 4); // leaves one session to reuse
    const [a, b] = await Promise.all([run(provider, p, 6), run(provider, p, 6)]);
    expect([a.cached, b.cached].sort()).toEqual([0, p.length - 1]);
    const want = await fresh(p, 6);
    expect(a.tokens).toEqual(want);
    expect(b.tokens).toEqual(want);
  }, 60_000);

  it("keeps an aborted generation's session usable", async () => {
    const provider = new EngineProvider([{ id: MODEL, engine }]);
    const p = chatPromptTokens(text, [{ role: 'user', content: 'Tell a story.' }]);
    const controller = new AbortController();
    const g = await provider.generate({
      model: MODEL,
      promptTokens: p,
      maxTokens: 50,
      sampling: { ...DEFAULT_SAMPLING, temperature: 0 },
      signal: controller.signal,
    });
    let n = 0;
    await expect(
      (async () => {
        for await (const _ of g.tokens) if (++n === 3) controller.abort();
      })(),
    ).rejects.toMatchObject({ name: 'AbortError' });
    const again = await run(provider, p, 6);
    expect(again.cached).toBe(p.length - 1);
    expect(again.tokens).toEqual(await fresh(p, 6));
  }, 60_000);

  it('reports the reused prompt tokens in OpenAI usage, with the same reply as a fresh run', async () => {
    const ctx = createApiContext({ provider: new EngineProvider([{ id: MODEL, engine }]) });
    const ask = async (messages: { role: string; content: string }[]) => {
      const body = JSON.stringify({ model: MODEL, messages, max_tokens: 6, temperature: 0 });
      const r = await handleApiRequest(
        new Request('http://api.test/v1/chat/completions', { method: 'POST', body, headers: { 'content-type': 'application/json' } }),
        ctx,
      );
      return r.json() as Promise<{
        choices: { message: { content: string } }[];
        usage: { prompt_tokens: number; prompt_tokens_details?: { cached_tokens: number } };
      }>;
    };
    const turn1 = [{ role: 'user', content: 'Hello there.' }];
    const a = await ask(turn1);
    expect(a.usage.prompt_tokens_details).toBeUndefined();
    const turn2 = [...turn1, { role: 'assistant', content: a.choices[0].message.content }, { role: 'user', content: 'More.' }];
    const b = await ask(turn2);
    const p1 = chatPromptTokens(text, turn1 as never);
    const p2 = chatPromptTokens(text, turn2 as never);
    expect(b.usage.prompt_tokens).toBe(p2.length);
    expect(b.usage.prompt_tokens_details!.cached_tokens).toBeGreaterThanOrEqual(commonPrefix(p1, p2));
    expect(b.choices[0].message.content).toBe(engine.tokenizer.detokenize((await fresh(p2, 6)).filter((t) => !engine.tokenizer.isEog(t))));
  }, 60_000);
});
