// One generation as the API sees it: starts the provider, turns token ids into text deltas (whole
// UTF-8 characters only), stops at an end-of-generation token, a stop sequence or max tokens, and
// makes sure the provider is told to stop (abort + return()) however the run ends.
import type { SamplingParams } from '../protocol/generation.ts';
import { TokenTextStream } from '../tokenizer/index.ts';
import type { ModelProvider, ModelText, ServedBy } from './provider.ts';
import { StopMatcher } from './stop-matcher.ts';

/** Why generation ended, before each protocol names it: eog -> stop/end_turn, length -> length/max_tokens. */
export type FinishKind = 'eog' | 'stop_sequence' | 'length';

export interface Outcome {
  finish: FinishKind;
  stopSequence: string | null;
  /** Tokens the model produced, including an end-of-generation token (as llama.cpp's server counts). */
  completionTokens: number;
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
}

export interface Run {
  servedBy: ServedBy[];
  /** Prompt tokens the provider did not evaluate again (reused KV cache). */
  cachedPromptTokens: number;
  /** Text deltas; the return value says how it ended. Throws an AbortError if the client aborted. */
  deltas: AsyncGenerator<string, Outcome, void>;
  /** Stops the provider (e.g. the response stream was cancelled). */
  cancel(): void;
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
  let generation;
  try {
    generation = await o.provider.generate({
      model: o.model, promptTokens: o.promptTokens, sampling: o.sampling, maxTokens: o.maxTokens, signal: controller.signal,
    });
  } catch (e) {
    release();
    throw e;
  }
  const tokens = generation.tokens[Symbol.asyncIterator]();
  const tokenizer = o.text.tokenizer;
  // A provider parked at a yield (nobody is reading: the client left) learns of the abort only here.
  const stopTokens = () => { tokens.return?.()?.catch(() => {}); };
  if (controller.signal.aborted) stopTokens();
  else controller.signal.addEventListener('abort', stopTokens, { once: true });

  async function* deltas(): AsyncGenerator<string, Outcome, void> {
    const decoder = new TokenTextStream(tokenizer);
    const stops = new StopMatcher(o.stop);
    let produced = 0;
    let finish: FinishKind = 'length';
    let stopSequence: string | null = null;
    try {
      while (produced < o.maxTokens) {
        const next = await Promise.race([tokens.next(), aborted]);
        if (next.done) break;
        produced++;
        if (tokenizer.isEog(next.value)) { finish = 'eog'; break; }
        const r = stops.push(decoder.push(next.value));
        if (r.emit) yield r.emit;
        if (r.matched !== null) { finish = 'stop_sequence'; stopSequence = r.matched; break; }
      }
      if (finish !== 'stop_sequence') {
        const r = stops.push(decoder.flush());
        const rest = r.emit + (r.matched === null ? stops.flush() : '');
        if (r.matched !== null) { finish = 'stop_sequence'; stopSequence = r.matched; }
        if (rest) yield rest;
      }
      if (controller.signal.aborted) throw abortError();
    } finally {
      release();
    }
    return { finish, stopSequence, completionTokens: produced };
  }

  const cancel = () => {
    controller.abort(abortError());
    release();
  };
  return { servedBy: generation.servedBy, cachedPromptTokens: generation.cachedPromptTokens ?? 0, deltas: deltas(), cancel };
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
