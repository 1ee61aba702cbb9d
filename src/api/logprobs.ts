// Log-probabilities on OpenAI's wire: chat's per-token objects ({token, logprob, bytes, top_logprobs})
// and the legacy completions' parallel arrays (tokens, token_logprobs, top_logprobs maps, text_offset),
// plus the check that the provider serving a model reports them at all.
import { ApiError } from '../protocol/api-error.ts';
import type { ChatTokenLogprob, CompletionLogprobs } from '../protocol/openai.ts';
import type { Tokenizer } from '../tokenizer/index.ts';
import type { ApiContext } from './context.ts';
import type { PositionLogprobs } from '../provider/provider.ts';

// Lossy on purpose: a token holding part of a UTF-8 character shows as U+FFFD; its `bytes` stay exact.
const decoder = new TextDecoder();

/** How a token reads in log-prob lists: special tokens by their text (`</s>`), so an alternative is recognisable. */
function shown(tokenizer: Tokenizer, id: number): { token: string; bytes: number[] } {
  const bytes = tokenizer.tokenToPiece(id, true);
  return { token: decoder.decode(bytes), bytes: Array.from(bytes) };
}

/**
 * Refuses (400, before any work) a request for log-probs that the model's provider cannot report;
 * `prompt`: the prompt's own (echo) are needed too.
 */
export async function requireLogprobs(ctx: ApiContext, model: string, field: string, prompt = false): Promise<void> {
  if ((await ctx.provider.supportsLogprobs?.(model)) && (!prompt || ctx.provider.promptLogprobs)) return;
  throw new ApiError('invalid_request', `this model's provider does not report log-probs ("${model}" is served by a provider without them); remove ${field}`, {
    param: field,
    code: 'logprobs_not_supported',
  });
}

export function chatLogprobs(tokenizer: Tokenizer, steps: readonly PositionLogprobs[]): ChatTokenLogprob[] {
  return steps.map((s) => ({
    ...shown(tokenizer, s.token),
    logprob: s.logprob,
    top_logprobs: s.top.map((t) => ({ ...shown(tokenizer, t.id), logprob: t.logprob })),
  }));
}

/** A prompt's first token: nothing predicts it, so its log-prob and alternatives are null (as OpenAI's echo). */
export interface Unscored {
  token: number;
  logprob: null;
}

/**
 * Writes completions' log-prob arrays chunk by chunk, keeping the text offset across chunks. Offsets
 * add up the tokens' visible text (special tokens such as BOS count as empty).
 */
export class CompletionLogprobWriter {
  /** Where the next token's text starts in the choice's text. */
  offset = 0;
  private readonly tokenizer: Tokenizer;

  constructor(tokenizer: Tokenizer) {
    this.tokenizer = tokenizer;
  }

  /** Each token's map holds the top alternatives and the token itself (so up to top + 1 entries, as OpenAI's). */
  write(steps: readonly (PositionLogprobs | Unscored)[]): CompletionLogprobs {
    const out: CompletionLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
    for (const s of steps) {
      out.tokens.push(shown(this.tokenizer, s.token).token);
      out.token_logprobs.push(s.logprob);
      out.text_offset.push(this.offset);
      this.offset += decoder.decode(this.tokenizer.tokenToPiece(s.token)).length;
      if (s.logprob === null) {
        out.top_logprobs.push(null);
        continue;
      }
      const map: Record<string, number> = {};
      for (const t of [...(s as PositionLogprobs).top, { id: s.token, logprob: s.logprob }]) {
        const key = shown(this.tokenizer, t.id).token;
        if (!(key in map)) map[key] = t.logprob; // two tokens reading alike: the likelier one (listed first) wins
      }
      out.top_logprobs.push(map);
    }
    return out;
  }
}

export function concatLogprobs(a: CompletionLogprobs, b: CompletionLogprobs): CompletionLogprobs {
  return {
    tokens: [...a.tokens, ...b.tokens],
    token_logprobs: [...a.token_logprobs, ...b.token_logprobs],
    top_logprobs: [...a.top_logprobs, ...b.top_logprobs],
    text_offset: [...a.text_offset, ...b.text_offset],
  };
}
