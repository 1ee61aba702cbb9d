// OpenAI's legacy POST /v1/completions: one prompt (text or token ids) continued, streamed or not.
// `echo` puts the prompt before the completion; with `logprobs` it is scored teacher-forced (its first
// token has no prediction: null), and `max_tokens: 0` then scores the prompt without generating,
// which is how a client checks a served model against a reference (e.g. llama.cpp) position by position.
import { validateCompletion, type CompletionLogprobs, type OpenAiCompletionRequest, type OpenAiFinishReason, type TextCompletion } from '../protocol/openai.ts';
import type { ApiContext, RequestInfo } from './context.ts';
import { concatLogprobs, CompletionLogprobWriter, requireLogprobs, type Unscored } from './logprobs.ts';
import { finishReason, openAiErrorFrame, usage } from './openai-routes.ts';
import { completionPromptTokens } from './prompt.ts';
import type { ServedBy } from '../provider/provider.ts';
import {
  begin,
  collectReleased,
  jsonResponse,
  meshInfo,
  newId,
  nowSeconds,
  prepare,
  servedByHeader,
  streamResponse,
  validationLimits,
  type Prepared,
} from './serve.ts';
import { sseData, sseResponse } from './sse.ts';

export async function completions(request: Request, ctx: ApiContext, info: RequestInfo, body: unknown): Promise<Response> {
  const v = validateCompletion(body, await validationLimits(ctx));
  if (!v.ok) throw v.error;
  const req = v.value;
  const p = await prepare(ctx, req.model, (t) => completionPromptTokens(t, req.prompt), req.maxTokens, typeof req.prompt === 'string' ? req.prompt.length : 0);
  const scorePrompt = req.echo && req.logprobs !== undefined;
  if (scorePrompt) await requireLogprobs(ctx, req.model, 'logprobs', true);
  const echoText = !req.echo ? '' : typeof req.prompt === 'string' ? req.prompt : p.text.tokenizer.detokenize(p.promptTokens);
  const writer = new CompletionLogprobWriter(p.text.tokenizer);
  let promptLogprobs: CompletionLogprobs | null = null;
  let scoredBy: ServedBy[] = [];
  // Runs in the model's queue slot: the prompt's log-probs, and the generated text's offsets after it.
  const score = async () => {
    const scored = await ctx.provider.promptLogprobs!({ model: req.model, tokens: p.promptTokens, top: req.logprobs!, signal: request.signal });
    const first: Unscored = { token: p.promptTokens[0], logprob: null };
    writer.offset = 0;
    promptLogprobs = writer.write([first, ...scored.positions]);
    writer.offset = echoText.length;
    scoredBy = scored.servedBy;
  };
  if (p.maxTokens === 0)
    return scoreOnly(ctx, request, info, req, p, echoText, scorePrompt ? score : undefined, () => ({ logprobs: promptLogprobs, servedBy: scoredBy }));
  writer.offset = echoText.length;

  const started = await begin(ctx, request, info, p, req, scorePrompt ? score : undefined);
  const { run } = started;
  const id = newId('cmpl-');
  const created = nowSeconds();
  const headers = servedByHeader(run.servedBy);
  const base = { id, object: 'text_completion' as const, created, model: req.model, system_fingerprint: null };
  const generated = (): CompletionLogprobs | null => (req.logprobs === undefined ? null : writer.write(run.takeLogprobs()));

  if (!req.stream) {
    const result = await collectReleased(started);
    const lp = generated();
    const completion: TextCompletion = {
      ...base,
      choices: [
        {
          index: 0,
          text: echoText + result.text,
          logprobs: promptLogprobs && lp ? concatLogprobs(promptLogprobs, lp) : lp,
          finish_reason: finishReason(result.outcome, false),
        },
      ],
      usage: usage(p, result.outcome, run.cachedPromptTokens),
      mesh: meshInfo(run.servedBy),
    };
    return jsonResponse(completion, 200, servedByHeader(run.servedBy)); // read again: a checked mesh may have redone the answer
  }

  const chunk = (text: string, finish: OpenAiFinishReason | null, logprobs: CompletionLogprobs | null = null): TextCompletion => ({
    ...base,
    choices: [{ index: 0, text, logprobs, finish_reason: finish }],
    ...(req.includeUsage ? { usage: null } : {}),
  });
  async function* frames(): AsyncGenerator<string, void, void> {
    let first = true;
    if (req.echo) {
      yield sseData({ ...chunk(echoText, null, promptLogprobs), mesh: meshInfo(run.servedBy) });
      first = false;
    }
    for (;;) {
      const r = await run.deltas.next();
      if (r.done) {
        yield sseData(chunk('', finishReason(r.value, false)));
        if (req.includeUsage) yield sseData({ ...base, choices: [], usage: usage(p, r.value, run.cachedPromptTokens) });
        break;
      }
      const c = chunk(r.value, null, generated());
      yield sseData(first ? { ...c, mesh: meshInfo(run.servedBy) } : c);
      first = false;
    }
    yield 'data: [DONE]\n\n';
  }
  return streamResponse(started, headers, frames, openAiErrorFrame);
}

/** `echo` with `max_tokens: 0`: the prompt back, scored when log-probs are asked for; nothing generated. */
async function scoreOnly(
  ctx: ApiContext,
  request: Request,
  info: RequestInfo,
  req: OpenAiCompletionRequest,
  p: Prepared,
  echoText: string,
  score: (() => Promise<void>) | undefined,
  scored: () => { logprobs: CompletionLogprobs | null; servedBy: ServedBy[] },
): Promise<Response> {
  if (score) {
    const release = await ctx.queues.for(p.model.id).acquire(info.clientKey ?? 'anonymous', request.signal);
    try {
      await score();
    } finally {
      release();
    }
  }
  const base = { id: newId('cmpl-'), object: 'text_completion' as const, created: nowSeconds(), model: req.model, system_fingerprint: null };
  const outcome = { finish: 'length' as const, stopSequence: null, completionTokens: 0 };
  const u = usage(p, outcome, 0);
  const { logprobs, servedBy } = scored();
  const choice = { index: 0, text: echoText, logprobs, finish_reason: 'length' as const };
  // who scored the prompt (none when nothing was scored: a plain echo needs no model run)
  const headers = servedByHeader(servedBy);
  const mesh = servedBy.length ? { mesh: meshInfo(servedBy) } : {};
  if (!req.stream) return jsonResponse({ ...base, choices: [choice], usage: u, ...mesh } satisfies TextCompletion, 200, headers);
  async function* frames(): AsyncGenerator<string, void, void> {
    yield sseData({ ...base, choices: [{ ...choice, finish_reason: null }], ...(req.includeUsage ? { usage: null } : {}), ...mesh });
    yield sseData({ ...base, choices: [{ index: 0, text: '', logprobs: null, finish_reason: 'length' }], ...(req.includeUsage ? { usage: null } : {}) });
    if (req.includeUsage) yield sseData({ ...base, choices: [], usage: u });
    yield 'data: [DONE]\n\n';
  }
  return sseResponse(frames(), headers, () => {});
}
