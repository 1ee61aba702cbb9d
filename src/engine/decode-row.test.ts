// A decode loop writes each step's row of logits into the one before it: no vocabulary-wide array
// per token (608 KB for a 150k vocabulary, piling up as garbage in a tab), and the same tokens and
// log-probabilities as with a fresh row per step.
import { describe, expect, it } from 'vitest';
import { ensureModel } from '../../tools/models/registry.ts';
import { Engine } from './engine.ts';
import { generateTokens, type GenerateEvent } from './generate.ts';
import type { ExtendOptions, InferenceSession } from './session.ts';

/** The session, recording every array extend() returns; `fresh` strips the `into` option (a session that ignores it). */
function watched(session: InferenceSession, fresh: boolean): { session: InferenceSession; rows: Float32Array[] } {
  const rows: Float32Array[] = [];
  const extend = session.extend.bind(session);
  return {
    rows,
    session: Object.assign(Object.create(session) as InferenceSession, {
      async extend(tokens: readonly number[], opts: ExtendOptions = {}) {
        const row = await extend(tokens, fresh ? { logits: opts.logits, signal: opts.signal } : opts);
        rows.push(row);
        return row;
      },
    }),
  };
}

describe('decode rows', () => {
  it('reuses one row of logits from the second decode step on, with unchanged tokens and log-probs', async () => {
    for (const backend of ['ref', 'cpu'] as const) {
      const engine = await Engine.load(await ensureModel('tiny-llama-f32'), { backend });
      try {
        const run = async (fresh: boolean) => {
          const s = engine.createSession();
          const w = watched(s, fresh);
          const events: GenerateEvent[] = [];
          const req = { promptTokens: engine.tokenize('Once upon a time'), maxTokens: 12, sampling: { temperature: 0.8, seed: 5 }, logprobs: 3 };
          for await (const ev of generateTokens(w.session, engine.tokenizer, req)) events.push(ev);
          s.free();
          return { events, rows: w.rows };
        };
        const reused = await run(false);
        const plain = await run(true);
        expect(reused.events).toEqual(plain.events);
        // The prompt's row, then decode rows: the first fresh, every later one that same array.
        const decode = reused.rows.slice(1);
        expect(decode.length).toBeGreaterThan(5);
        expect(new Set(decode).size).toBe(1);
        expect(new Set(plain.rows.slice(1)).size).toBe(plain.rows.length - 1);
      } finally {
        await engine.close();
      }
    }
  }, 60_000);
});
