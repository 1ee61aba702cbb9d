// One generation as the API sees it: starts the provider, turns token ids into text deltas (whole
// UTF-8 characters only), stops at an end-of-generation token, a stop sequence or max tokens, and
// makes sure the provider is told to stop (abort + return()) however the run ends.
import { ApiError } from '../protocol/api-error.ts';
import type { SamplingParams, SpeculativeUsage } from '../protocol/generation.ts';
import { TokenTextStream } from '../tokenizer/index.ts';
import type { Generation, ModelProvider, ModelText, PositionLogprobs, ServedBy } from '../provider/provider.ts';
import { StopMatcher } from './stop-matcher.ts';

/** Why generation ended, before each protocol names it: eog -> stop/end_turn, length -> length/max_tokens. */
export type FinishKind = 'eog' | 'stop_sequence' | 'length';

export interface Outcome {
  finish: FinishKind;
  stopSequence: string | null;
  /** Tokens the model produced, including an end-of-generation token (as llama.cpp's server counts). */
  completionTokens: number;
  /** Draft tokens verified and accepted, when the provider decoded speculatively. */
  speculative?: SpeculativeUsage;
}

export interface RunOptions {
  provider: ModelProvider;
  model: string;
  text: ModelText;
  promptTokens: number[];
  sampling: SamplingParams;
  maxTokens: number;
  stop: readonly string[];
  /**
   * The client's request: its signal aborting stops the provider within one token. The run keeps
   * the Request itself reachable: in Node (undici) the Request owns the AbortController behind
   * `request.signal`, so once a streaming handler has returned, a collected Request would never
   * deliver the client's abort.
   */
  request: Request;
  /** Collect each generated token's log-prob and this many alternatives (the provider must support it). */
  logprobs?: number;
  /** The tokens go out as they come (SSE); told to the provider (GenerateRequest.stream). */
  stream?: boolean;
}

export interface Run {
  servedBy: ServedBy[];
  /** Prompt tokens the provider did not evaluate again (reused KV cache). */
  cachedPromptTokens: number;
  /** Text deltas; the return value says how it ended. Throws an AbortError if the client aborted. */
  deltas: AsyncGenerator<string, Outcome, void>;
  /** Stops the provider (e.g. the response stream was cancelled). */
  cancel(): void;
  /**
   * With `logprobs` asked: the log-probs of the tokens whose text went out in the deltas read so
   * far and not taken before. A token belongs to the delta that releases (some of) its text; tokens
   * that release none (an end-of-generation token, tokens wholly inside a matched stop sequence) are left out.
   */
  takeLogprobs(): PositionLogprobs[];
}

export function abortError(): DOMException {
  return new DOMException('the client aborted the request', 'AbortError');
}

export async function startRun(o: RunOptions): Promise<Run> {
  const signal = o.request.signal;
  if (signal.aborted) throw abortError();
  const controller = new AbortController();
  const onAbort = () => controller.abort(abortError());
  signal.addEventListener('abort', onAbort, { once: true });
  const aborted = new Promise<never>((_, reject) => {
    controller.signal.addEventListener('abort', () => reject(abortError()), { once: true });
  });
  aborted.catch(() => {}); // only raced, never awaited alone
  const release = () => {
    signal.removeEventListener('abort', onAbort);
    controller.abort();
  };
  // reported by the provider before each token; moved to `released` once the token's text goes out
  const reported: PositionLogprobs[] = [];
  let released: PositionLogprobs[] = [];
  const logprobs =
    o.logprobs === undefined
      ? undefined
      : {
          top: o.logprobs,
          onToken: (step: PositionLogprobs) => {
            reported.push(step);
          },
        };
  let generation: Generation;
  try {
    generation = await o.provider.generate({
      model: o.model,
      promptTokens: o.promptTokens,
      sampling: o.sampling,
      maxTokens: o.maxTokens,
      signal: controller.signal,
      ...(o.stream ? { stream: true } : {}),
      ...(logprobs ? { logprobs } : {}),
    });
  } catch (e) {
    release();
    throw e;
  }
  const tokens = generation.tokens[Symbol.asyncIterator]();
  const tokenizer = o.text.tokenizer;
  // A provider parked at a yield (nobody is reading: the client left) learns of the abort only here.
  const stopTokens = () => {
    tokens.return?.()?.catch(() => {});
  };
  if (controller.signal.aborted) stopTokens();
  else controller.signal.addEventListener('abort', stopTokens, { once: true });

  async function* deltas(): AsyncGenerator<string, Outcome, void> {
    const decoder = new TokenTextStream(tokenizer);
    const stops = new StopMatcher(o.stop);
    let produced = 0;
    let finish: FinishKind = 'length';
    let stopSequence: string | null = null;
    const pending: PositionLogprobs[] = []; // tokens whose text has not gone out yet
    const letOut = () => {
      released.push(...pending.splice(0));
    };
    try {
      while (produced < o.maxTokens) {
        const next = await Promise.race([tokens.next(), aborted]);
        if (next.done) break;
        produced++;
        if (logprobs) {
          const step = reported.shift();
          if (!step || step.token !== next.value)
            throw new ApiError(
              'internal',
              `the model's provider did not report the log-probs of token ${next.value} although it claims to support them; retry without logprobs`,
              { code: 'logprobs_missing' },
            );
          if (!tokenizer.isEog(next.value)) pending.push(step);
        }
        if (tokenizer.isEog(next.value)) {
          finish = 'eog';
          break;
        }
        const r = stops.push(decoder.push(next.value));
        if (r.emit) {
          letOut();
          yield r.emit;
        }
        if (r.matched !== null) {
          finish = 'stop_sequence';
          stopSequence = r.matched;
          break;
        }
      }
      if (finish !== 'stop_sequence') {
        const r = stops.push(decoder.flush());
        const rest = r.emit + (r.matched === null ? stops.flush() : '');
        if (r.matched !== null) {
          finish = 'stop_sequence';
          stopSequence = r.matched;
        }
        if (rest) {
          letOut();
          yield rest;
        }
      }
      if (controller.signal.aborted) throw abortError();
    } finally {
      release();
    }
    const spec = generation.speculative;
    return { finish, stopSequence, completionTokens: produced, ...(spec ? { speculative: { drafted: spec.drafted, accepted: spec.accepted } } : {}) };
  }

  const cancel = () => {
    controller.abort(abortError());
    release();
  };
  const takeLogprobs = () => {
    const out = released;
    released = [];
    return out;
  };
  return { servedBy: generation.servedBy, cachedPromptTokens: generation.cachedPromptTokens ?? 0, deltas: deltas(), cancel, takeLogprobs };
}

/** Runs to the end and collects the text (non-streaming responses). */
export async function collect(run: Run): Promise<{ text: string; outcome: Outcome }> {
  let text = '';
  for (;;) {
    const r = await run.deltas.next();
    if (r.done) return { text, outcome: r.value };
    text += r.value;
  }
}
