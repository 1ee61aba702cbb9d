// The token stream every host that runs the model's tail here hands the API (the local engine, the
// mesh's head): the engine's generation loop on a session, log-probs reported before each token, and
// a macrotask between tokens so a client's disconnect is seen within one token.
import { generateTokens } from '../engine/generate.ts';
import type { SpeculativeStats } from '../engine/drafter.ts';
import type { InferenceSession } from '../engine/session.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import type { GenerateRequest } from './provider.ts';
import type { SpeculativeMode } from './speculative-mode.ts';

/** Resolves after pending I/O callbacks have run (setImmediate in Node, a message hop in browsers). */
export function macrotask(): Promise<void> {
  if (typeof setImmediate === 'function') return new Promise((resolve) => setImmediate(resolve));
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}

/** Decode speculatively with `mode`'s drafter, counting into `stats`. */
export interface SpeculativeRun {
  mode: SpeculativeMode;
  stats: SpeculativeStats;
}

/**
 * Sampled token ids of `request` run on `session` (which already holds whatever prefix it holds),
 * speculatively when `speculative` is given: the same tokens when greedy, the same distribution otherwise.
 */
export async function* sessionTokens(
  session: InferenceSession,
  tokenizer: Tokenizer,
  request: GenerateRequest,
  speculative?: SpeculativeRun,
): AsyncGenerator<number> {
  const wantLogprobs = request.logprobs;
  const drafter = speculative?.mode.createDrafter(request.sampling);
  try {
    const events = generateTokens(session, tokenizer, {
      promptTokens: request.promptTokens,
      maxTokens: request.maxTokens,
      sampling: request.sampling,
      signal: request.signal,
      logprobs: wantLogprobs?.top,
      ...(drafter ? { speculative: { drafter, k: speculative?.mode.k, stats: speculative?.stats } } : {}),
    });
    for await (const e of events) {
      if (e.type !== 'token') continue;
      if (wantLogprobs && e.logprobs) wantLogprobs.onToken({ token: e.token, logprob: e.logprobs.logprob, top: e.logprobs.top });
      yield e.token;
      // A small model's step can finish without ever leaving the microtask queue: let I/O run between
      // tokens, so a client's disconnect is seen (and the generation stopped) within one token, and
      // other requests' streams keep flowing.
      await macrotask();
    }
  } finally {
    drafter?.free();
  }
}
