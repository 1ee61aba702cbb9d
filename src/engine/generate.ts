// The generation loop: prefill the prompt, then sample, stream text, and stop on an end-of-generation
// token, a stop string, max tokens, or a full context. Yields each token as it is produced.
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { TokenTextStream } from '../tokenizer/text-stream.ts';
import { EngineError } from './errors.ts';
import type { TokenLogprob } from './logprobs.ts';
import { Sampler, type SamplingOptions } from './sampler.ts';
import { plainSteps, speculativeSteps, type SpeculativeOptions } from './speculative.ts';
import type { InferenceSession } from './session.ts';
import { StopMatcher } from './stop-strings.ts';
import { topKIndices } from './top-k.ts';

export interface GenerateRequest {
  /** Already tokenized (with the model's BOS rule, or a chat template's rendering). */
  readonly promptTokens: readonly number[];
  readonly maxTokens: number;
  readonly sampling?: SamplingOptions;
  /** Generation ends when the text contains one of these; it and what follows are not returned. */
  readonly stop?: readonly string[];
  /** Aborting rejects the iteration with the signal's reason (an AbortError by default). */
  readonly signal?: AbortSignal;
  /**
   * Report each generated token's log-probability and this many most likely alternatives (0: the
   * token's own only). Taken from the raw logits, before penalties, top-k/p and temperature: the
   * model's own distribution, as llama.cpp's server reports by default. Undefined: off.
   */
  readonly logprobs?: number;
  /** Decode speculatively with this drafter (speculative.ts); the tokens are the same as without. */
  readonly speculative?: SpeculativeOptions;
}

/** One step's log-probabilities: the chosen token's and the `k` most likely (float64 log-softmax). */
export interface StepLogprobs {
  readonly logprob: number;
  readonly top: TokenLogprob[];
}

/** 'stop': an end-of-generation token or a stop string; 'length': max tokens or a full context. */
export type FinishReason = 'stop' | 'length';

export interface Usage {
  readonly promptTokens: number;
  readonly completionTokens: number;
}

export type GenerateEvent =
  /**
   * One generated token and the text it releases (possibly '' while a character or stop string is
   * pending); `logprobs` when the request asked for them.
   */
  | { readonly type: 'token'; readonly token: number; readonly text: string; readonly logprobs?: StepLogprobs }
  /** The last event: why it ended, counts, any text released only at the end, the seed used. */
  | { readonly type: 'done'; readonly finishReason: FinishReason; readonly usage: Usage; readonly text: string; readonly seed: number };

export async function* generateTokens(session: InferenceSession, tokenizer: Tokenizer, req: GenerateRequest): AsyncGenerator<GenerateEvent, void, undefined> {
  const { promptTokens, maxTokens, signal } = req;
  if (!Number.isInteger(maxTokens) || maxTokens < 0) throw new EngineError('engine_bad_input', `maxTokens must be a non-negative integer, got ${maxTokens}`);
  if (promptTokens.length === 0) throw new EngineError('engine_bad_input', 'the prompt is empty (and the model adds no BOS token): give a non-empty prompt');
  if (promptTokens.length > session.maxPositions) {
    throw new EngineError(
      'engine_context_overflow',
      `the prompt has ${promptTokens.length} tokens but the context holds ${session.maxPositions}; shorten the prompt`,
    );
  }
  const sampler = new Sampler(req.sampling);
  const text = new TokenTextStream(tokenizer);
  const stops = new StopMatcher(req.stop);
  signal?.throwIfAborted();
  const first = await session.extend(promptTokens, { logits: 'last', signal });
  for (const t of promptTokens) sampler.accept(t); // penalties see the prompt, as llama-server's do
  let produced = 0;
  const done = (finishReason: FinishReason, tail: string): GenerateEvent => ({
    type: 'done',
    finishReason,
    text: tail,
    seed: sampler.seed,
    usage: { promptTokens: promptTokens.length, completionTokens: produced },
  });
  if (maxTokens === 0) {
    yield done('length', '');
    return;
  }
  const nVocab = first.length;
  const held = session.length; // the prompt, after whatever the session held before it
  const steps = req.speculative
    ? speculativeSteps(session, sampler, first, req.speculative, () => maxTokens - produced, signal)
    : plainSteps(session, sampler, first, signal);
  // Leaving this loop (return, a throw, or the caller's return()) also closes `steps`.
  for await (const { token, logits, offset } of steps) {
    produced++;
    const lp = req.logprobs === undefined ? {} : { logprobs: rowLogprobs(logits, offset, nVocab, token, req.logprobs) };
    if (tokenizer.isEog(token)) {
      yield { type: 'token', token, text: '', ...lp };
      yield done('stop', stops.push(text.flush()).text + stops.flush());
      return;
    }
    const r = stops.push(text.push(token));
    yield { type: 'token', token, text: r.text, ...lp };
    if (r.stopped) {
      yield done('stop', '');
      return;
    }
    // the token just produced would sit at position held + produced - 1
    if (produced >= maxTokens || held + produced - 1 >= session.maxPositions) {
      const last = stops.push(text.flush());
      yield done(last.stopped ? 'stop' : 'length', last.text + stops.flush());
      return;
    }
  }
}

/** The log-probability of `token` in the row logits[offset .. offset+n) and the row's `k` most likely tokens. */
export function rowLogprobs(logits: Float32Array, offset: number, n: number, token: number, k: number): StepLogprobs {
  const ids = topKIndices(logits, Math.max(1, k), offset, n);
  const max = logits[offset + ids[0]];
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp(logits[offset + i] - max);
  const lse = max + Math.log(sum);
  return { logprob: logits[offset + token] - lse, top: ids.slice(0, k).map((id) => ({ id, logprob: logits[offset + id] - lse })) };
}
