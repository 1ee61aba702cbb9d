// Log-probabilities through the API over a real engine (tiny test model): a prompt echoed with
// max_tokens 0 gives llama.cpp's teacher-forced distribution; chat log-probs (streamed or not, read by
// the official SDK through the companion's HTTP API) equal the same model's teacher-forced scores of
// the generated tokens; a provider that cannot report them answers an OpenAI-shaped 400; and (scripted)
// each streamed chunk carries exactly the tokens whose text it holds.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../../tools/models/registry.ts';
import { referenceRun } from '../../tools/reference/reference.ts';
import { startTestCompanion, type TestCompanion } from '../companion/testing/companion.ts';
import { Engine } from '../engine/engine.ts';
import type { Tokenizer } from '../tokenizer/index.ts';
import { createApiContext, type ApiContext } from './context.ts';
import { EngineProvider } from '../provider/engine-provider.ts';
import { handleApiRequest } from './handler.ts';
import { parseSse, post } from './testing/requests.ts';
import { loadModelText, ScriptedProvider } from './testing/scripted-provider.ts';

const MODEL = 'tiny-llama-f32';
// parity.test.ts's prompt: its llama.cpp reference is usually cached already
const PROMPT = 'The quick brown fox jumps over the lazy dog. Once upon a time';
const TOLERANCE = 5e-3;

let path: string;
let engine: Engine;
let ctx: ApiContext;
let companion: TestCompanion;
let openai: OpenAI;

beforeAll(async () => {
  path = await ensureModel(MODEL);
  engine = await Engine.load(path, { backend: 'cpu' });
  ctx = createApiContext({ provider: new EngineProvider([{ id: MODEL, engine }]) });
  // the companion's /v1 (its tab-routing provider in front) over the same engine
  companion = await startTestCompanion({}, { provider: new EngineProvider([{ id: MODEL, engine, peer: 'companion' }]) });
  openai = new OpenAI({ baseURL: `${companion.companion.urls.api}/v1`, apiKey: 'not-needed', maxRetries: 0 });
}, 60_000);
afterAll(async () => {
  await companion?.stop();
  await engine?.close();
});

const piece = (tokenizer: Tokenizer, id: number) => new TextDecoder().decode(tokenizer.tokenToPiece(id, true));

/** The engine's own teacher-forced log-prob of each token of `tokens` after `from` (no API involved). */
async function scored(tokens: number[], from: number): Promise<number[]> {
  const session = engine.createSession();
  try {
    const logits = await session.extend(tokens, { logits: 'all' });
    const n = engine.config.nVocab;
    const out = [];
    for (let i = from; i < tokens.length; i++) {
      const row = logits.subarray((i - 1) * n, i * n);
      let max = -Infinity;
      for (const x of row) max = Math.max(max, x);
      let sum = 0;
      for (const x of row) sum += Math.exp(x - max);
      out.push(row[tokens[i]] - max - Math.log(sum));
    }
    return out;
  } finally {
    session.free();
  }
}

describe('echo with max_tokens 0', () => {
  it("gives llama.cpp's teacher-forced top-5 at every prompt position", async () => {
    const ref = await referenceRun({ modelPath: path, prompt: PROMPT, topK: 5 });
    const res = await handleApiRequest(post('/v1/completions', { model: MODEL, prompt: PROMPT, echo: true, max_tokens: 0, logprobs: 5 }), ctx);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-mesh-served-by')).toBe('local;layers=0-2');
    const body = await res.json();
    const choice = body.choices[0];
    expect(choice).toMatchObject({ text: PROMPT, finish_reason: 'length' });
    expect(body.usage).toEqual({ prompt_tokens: ref.promptTokens.length, completion_tokens: 0, total_tokens: ref.promptTokens.length });
    const lp = choice.logprobs;
    const tokenizer = engine.tokenizer;
    expect(lp.tokens).toEqual(ref.promptTokens.map((id) => piece(tokenizer, id)));
    expect(lp.token_logprobs[0]).toBeNull();
    expect(lp.top_logprobs[0]).toBeNull();
    expect(lp.text_offset).toHaveLength(ref.promptTokens.length);
    let compared = 0;
    let worst = 0;
    for (let i = 1; i < ref.promptTokens.length; i++) {
      const want = ref.positions[i - 1]; // llama.cpp's distribution after position i-1, over token i
      const map: Record<string, number> = lp.top_logprobs[i];
      // the top 5 plus the token itself when it is not among them
      expect(Object.keys(map).length).toBeGreaterThanOrEqual(5);
      expect(Object.keys(map).length).toBeLessThanOrEqual(6);
      const keys = want.map((t) => piece(tokenizer, t.id));
      want.forEach((t, k) => {
        if (keys.indexOf(keys[k]) !== k) return; // two tokens reading alike share one key
        worst = Math.max(worst, Math.abs(map[keys[k]] - t.logprob));
        compared++;
      });
      const own = want.find((t) => t.id === ref.promptTokens[i]);
      if (own) worst = Math.max(worst, Math.abs(lp.token_logprobs[i] - own.logprob));
      else expect(lp.token_logprobs[i]).toBeLessThanOrEqual(want[4].logprob + TOLERANCE);
    }
    expect(compared).toBeGreaterThan(5 * (ref.promptTokens.length - 1) * 0.9);
    expect(worst).toBeLessThan(TOLERANCE);
  }, 60_000);

  it('streams the echoed prompt and its log-probs in the first chunk', async () => {
    const body = { model: MODEL, prompt: PROMPT, echo: true, max_tokens: 0, logprobs: 1 };
    const whole = await (await handleApiRequest(post('/v1/completions', body), ctx)).json();
    const frames = parseSse(await (await handleApiRequest(post('/v1/completions', { ...body, stream: true }), ctx)).text());
    expect(frames.at(-1)!.data).toBe('[DONE]');
    const first = JSON.parse(frames[0].data).choices[0];
    expect(first.text).toBe(PROMPT);
    expect(first.logprobs.tokens).toEqual(whole.choices[0].logprobs.tokens);
    expect(first.logprobs.token_logprobs).toEqual(whole.choices[0].logprobs.token_logprobs);
    expect(JSON.parse(frames.at(-2)!.data).choices[0].finish_reason).toBe('length');
  });
});

describe('OpenAI SDK through the companion', () => {
  const messages = [{ role: 'user' as const, content: 'Hello, who are you?' }];
  const tokenizer = () => engine.tokenizer;

  it("reports chat log-probs equal to the model's teacher-forced scores of its reply", async () => {
    const data = await openai.chat.completions.create({ model: MODEL, messages, max_tokens: 10, temperature: 0, logprobs: true, top_logprobs: 3 });
    const content = data.choices[0].logprobs!.content!;
    expect(content.length).toBeGreaterThan(3);
    const bytes = content.flatMap((c) => c.bytes!);
    expect(new TextDecoder().decode(new Uint8Array(bytes))).toBe(data.choices[0].message.content);
    for (const c of content) {
      expect(c.top_logprobs).toHaveLength(3);
      expect(c.top_logprobs[0].logprob).toBeGreaterThanOrEqual(c.top_logprobs[1].logprob);
      // greedy: the chosen token is the most likely one
      expect(c.token).toBe(c.top_logprobs[0].token);
      expect(c.logprob).toBeCloseTo(c.top_logprobs[0].logprob, 12);
    }
    // the same numbers from one teacher-forced pass over prompt + reply (the engine's own greedy ids)
    const { template } = await ctx.provider.modelText(MODEL);
    const prompt = tokenizer().tokenize(template.render(messages, { addGenerationPrompt: true }), { addSpecial: true, parseSpecial: true });
    const reply: number[] = [];
    for await (const e of engine.generate({ promptTokens: prompt, maxTokens: 10, sampling: { temperature: 0 } })) if (e.type === 'token') reply.push(e.token);
    const want = await scored([...prompt, ...reply.filter((t) => !tokenizer().isEog(t))], prompt.length);
    expect(content.map((c) => c.logprob).length).toBe(want.length);
    content.forEach((c, i) => expect(Math.abs(c.logprob - want[i])).toBeLessThan(1e-3));
  }, 30_000);

  it("streams each token's log-probs with the delta that carries its text", async () => {
    const whole = await openai.chat.completions.create({ model: MODEL, messages, max_tokens: 10, temperature: 0, logprobs: true, top_logprobs: 2 });
    const stream = await openai.chat.completions.create({
      model: MODEL,
      messages,
      max_tokens: 10,
      temperature: 0,
      logprobs: true,
      top_logprobs: 2,
      stream: true,
    });
    const streamed = [];
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (!choice) continue;
      const lp = choice.logprobs?.content ?? [];
      const text = new TextDecoder().decode(new Uint8Array(lp.flatMap((c) => c.bytes!)));
      expect(text).toBe(choice.delta.content ?? '');
      streamed.push(...lp);
    }
    expect(streamed).toEqual(whole.choices[0].logprobs!.content);
  }, 30_000);

  it('echoes a completion prompt with log-probs, then generates after it', async () => {
    const data = await openai.completions.create({ model: MODEL, prompt: PROMPT, echo: true, max_tokens: 4, temperature: 0, logprobs: 2 });
    const choice = data.choices[0];
    expect(choice.text.startsWith(PROMPT)).toBe(true);
    const lp = choice.logprobs!;
    const promptTokens = engine.tokenize(PROMPT);
    expect(lp.tokens).toHaveLength(promptTokens.length + 4);
    expect(lp.token_logprobs![0]).toBeNull();
    expect(lp.text_offset![promptTokens.length]).toBe(PROMPT.length); // the completion starts right after the echo
    for (let i = 1; i < lp.text_offset!.length; i++) expect(lp.text_offset![i]).toBeGreaterThanOrEqual(lp.text_offset![i - 1]);
    const plain = await openai.completions.create({ model: MODEL, prompt: PROMPT, max_tokens: 4, temperature: 0, logprobs: 2 });
    expect(choice.text).toBe(PROMPT + plain.choices[0].text);
    expect(lp.token_logprobs!.slice(promptTokens.length)).toEqual(plain.choices[0].logprobs!.token_logprobs);
    // streamed: the echo chunk, then one chunk per delta, adding up to the same arrays
    const stream = await openai.completions.create({ model: MODEL, prompt: PROMPT, echo: true, max_tokens: 4, temperature: 0, logprobs: 2, stream: true });
    const joined = { tokens: [] as string[], token_logprobs: [] as (number | null)[], text_offset: [] as number[] };
    let text = '';
    for await (const chunk of stream) {
      const c = chunk.choices[0];
      text += c.text;
      joined.tokens.push(...(c.logprobs?.tokens ?? []));
      joined.token_logprobs.push(...(c.logprobs?.token_logprobs ?? []));
      joined.text_offset.push(...(c.logprobs?.text_offset ?? []));
    }
    expect(text).toBe(choice.text);
    expect(joined).toEqual({ tokens: lp.tokens, token_logprobs: lp.token_logprobs, text_offset: lp.text_offset });
  }, 30_000);
});

describe('a provider without log-probs', () => {
  let scripted: ApiContext;
  beforeAll(async () => {
    scripted = createApiContext({ provider: new ScriptedProvider({ text: await loadModelText(path), reply: 'Fine.' }) });
  });

  it.each([
    ['/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }], logprobs: true }],
    ['/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }], logprobs: true, top_logprobs: 2, stream: true }],
    ['/v1/completions', { prompt: 'hi', logprobs: 1 }],
    ['/v1/completions', { prompt: 'hi', echo: true, max_tokens: 0, logprobs: 0 }],
  ])('answers %s %j with an OpenAI-shaped 400', async (route, body) => {
    const res = await handleApiRequest(post(route, { model: MODEL, ...body }), scripted);
    expect(res.status).toBe(400);
    const { error } = await res.json();
    expect(error).toMatchObject({ type: 'invalid_request_error', param: 'logprobs', code: 'logprobs_not_supported' });
    expect(error.message).toContain('does not report log-probs');
  });

  it('still echoes a prompt without log-probs', async () => {
    const res = await handleApiRequest(post('/v1/completions', { model: MODEL, prompt: 'Say hi.', echo: true, max_tokens: 0 }), scripted);
    expect((await res.json()).choices[0]).toMatchObject({ text: 'Say hi.', logprobs: null, finish_reason: 'length' });
    const tokenizer = (await loadModelText(path)).tokenizer;
    const ids = tokenizer.tokenize('Say hi.', { addSpecial: false });
    const byIds = await handleApiRequest(post('/v1/completions', { model: MODEL, prompt: ids, echo: true, max_tokens: 0 }), scripted);
    expect((await byIds.json()).choices[0].text).toBe(tokenizer.detokenize(ids));
  });
});

describe('which tokens each chunk carries (scripted provider)', () => {
  const REPLY = 'Waves 🌊 and café crème under the sky, then more sea.';
  let scripted: ApiContext;
  let provider: ScriptedProvider;
  beforeAll(async () => {
    provider = new ScriptedProvider({ text: await loadModelText(path), reply: REPLY, logprobs: true });
    scripted = createApiContext({ provider });
  });
  const steps = (n: number) => Array.from({ length: n }, (_, k) => -(k + 1) / 10); // the script's made-up log-probs
  const decode = (lp: { bytes: number[] }[]) => new TextDecoder().decode(new Uint8Array(lp.flatMap((c) => c.bytes)));

  it("streams whole characters: a chunk's token bytes are exactly its text; the end-of-generation token is left out", async () => {
    const tokens = provider.replyTokens();
    // the emoji is four byte tokens: three of them release no text
    expect(tokens.filter((t) => provider.text.tokenizer.tokenToPiece(t)[0] >= 0xf0)).toHaveLength(1);
    const res = await handleApiRequest(
      post('/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'hi' }], logprobs: true, stream: true }),
      scripted,
    );
    const all = [];
    let text = '';
    for (const f of parseSse(await res.text())) {
      if (f.data === '[DONE]') break;
      const choice = JSON.parse(f.data).choices[0];
      const lp = choice.logprobs?.content ?? [];
      expect(decode(lp)).toBe(choice.delta.content ?? '');
      text += choice.delta.content ?? '';
      all.push(...lp);
    }
    expect(text.trim()).toBe(REPLY); // the tokenizer adds a leading space
    expect(all.map((c) => c.logprob)).toEqual(steps(tokens.length - 1));
    expect(all.every((c) => c.top_logprobs.length === 0)).toBe(true); // top_logprobs defaults to 0
  });

  it('ends the list at the token that completes a stop sequence', async () => {
    const res = await handleApiRequest(
      post('/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'hi' }], logprobs: true, top_logprobs: 1, stop: ['sky'] }),
      scripted,
    );
    const choice = (await res.json()).choices[0];
    const content = choice.message.content;
    expect(content.trim()).toBe(REPLY.slice(0, REPLY.indexOf('sky')).trim());
    const lp = choice.logprobs.content;
    expect(decode(lp).startsWith(content)).toBe(true);
    expect(decode(lp)).toContain('sky');
    expect(decode(lp.slice(0, -1)).length).toBeLessThan(content.length + 1);
    expect(lp.map((c: { logprob: number }) => c.logprob)).toEqual(steps(lp.length));
    expect(lp[0].top_logprobs).toEqual([{ token: lp[0].token, logprob: lp[0].logprob, bytes: lp[0].bytes }]);
  });
});
