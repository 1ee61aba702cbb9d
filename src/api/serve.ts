// The steps every generating route shares: find the model, build the prompt, fit max tokens into
// the context, wait for a queue slot, start the run, read it whole or stream it; and how a response
// names the peers that served it.
import { ApiError, toApiError } from '../protocol/api-error.ts';
import { DEFAULT_LIMITS, type SamplingParams, type ValidationLimits } from '../protocol/generation.ts';
import type { MeshInfo } from '../protocol/openai.ts';
import type { ApiContext, RequestInfo } from './context.ts';
import { collect, startRun, type Outcome, type Run } from './generation-run.ts';
import { requireLogprobs } from './logprobs.ts';
import type { ModelDescriptor, ModelText, ServedBy } from '../provider/provider.ts';
import { sseResponse } from './sse.ts';

export async function validationLimits(ctx: ApiContext): Promise<ValidationLimits> {
  const models = await ctx.provider.listModels();
  // with no model served, the request is refused with a 503 later, not for its max_tokens
  if (models.length === 0) return DEFAULT_LIMITS;
  return { maxOutputTokens: Math.max(...models.map((m) => m.contextLength)) };
}

export async function findModel(ctx: ApiContext, id: string): Promise<ModelDescriptor> {
  const models = await ctx.provider.listModels();
  const found = models.find((m) => m.id === id);
  if (found) return found;
  if (models.length === 0) {
    // nothing to choose from: a temporary state (no peer has loaded a model yet), not a client mistake
    throw new ApiError('unavailable', `no peer can serve "${id}" right now (none is serving any model); ${ctx.noModelHint}`, {
      code: 'no_model_available',
      retryAfter: 5,
    });
  }
  const known = models.map((m) => m.id).join(', ');
  throw new ApiError('not_found', `the model "${id}" is not served here (available: ${known}); GET /v1/models lists them`, {
    param: 'model',
    code: 'model_not_found',
  });
}

export interface Prepared {
  model: ModelDescriptor;
  text: ModelText;
  promptTokens: number[];
  /** Requested max tokens, lowered to what fits in the context. */
  maxTokens: number;
}

/** The longest token text (in UTF-16 units) of each tokenizer: no token covers more of a prompt. */
const longest = new WeakMap<object, number>();
function longestToken(tokenizer: ModelText['tokenizer']): number {
  let n = longest.get(tokenizer);
  if (n === undefined) {
    n = 1;
    for (const t of tokenizer.vocab.texts) if (t.length > n) n = t.length;
    longest.set(tokenizer, n);
  }
  return n;
}

/**
 * `promptChars`: characters the rendered prompt surely holds (its messages' text). Over what the
 * context could hold even in the longest tokens, the prompt is refused before it is tokenized: a
 * 4 MiB prompt would otherwise hold the event loop for seconds only to be refused after.
 */
export async function prepare(
  ctx: ApiContext,
  id: string,
  promptOf: (text: ModelText) => number[],
  requested: number | undefined,
  promptChars = 0,
): Promise<Prepared> {
  const model = await findModel(ctx, id);
  const text = await ctx.provider.modelText(id);
  const most = model.contextLength * longestToken(text.tokenizer);
  if (promptChars > most) {
    throw new ApiError(
      'invalid_request',
      `the prompt is ${promptChars} characters, more than a context of ${model.contextLength} tokens of ${id} can hold; shorten the conversation`,
      { param: 'messages', code: 'context_length_exceeded' },
    );
  }
  const promptTokens = promptOf(text);
  const room = model.contextLength - promptTokens.length;
  if (room < 1) {
    throw new ApiError(
      'invalid_request',
      `the prompt is ${promptTokens.length} tokens but ${id} serves a context of ${model.contextLength}; shorten the conversation`,
      { param: 'messages', code: 'context_length_exceeded' },
    );
  }
  return { model, text, promptTokens, maxTokens: Math.min(requested ?? room, room) };
}

export interface Started {
  run: Run;
  /** Frees the queue slot; safe to call more than once. */
  release: () => void;
}

/**
 * Waits for a queue slot and starts the run. With `spec.logprobs`, a provider that cannot report them
 * is refused first (400). `first` runs in the slot before the generation starts (echo's prompt scoring).
 */
export async function begin(
  ctx: ApiContext,
  request: Request,
  info: RequestInfo,
  p: Prepared,
  spec: { sampling: SamplingParams; stop: readonly string[]; logprobs?: number },
  first?: () => Promise<void>,
): Promise<Started> {
  if (spec.logprobs !== undefined) await requireLogprobs(ctx, p.model.id, 'logprobs');
  const release = await ctx.queues.for(p.model.id).acquire(info.clientKey ?? 'anonymous', request.signal);
  try {
    await first?.();
    const run = await startRun({
      provider: ctx.provider,
      model: p.model.id,
      text: p.text,
      promptTokens: p.promptTokens,
      sampling: spec.sampling,
      maxTokens: p.maxTokens,
      stop: spec.stop,
      request,
      ...(spec.logprobs === undefined ? {} : { logprobs: spec.logprobs }),
    });
    return { run, release };
  } catch (e) {
    release();
    throw e;
  }
}

/** A whole (non-streamed) reply: the run read to its end, the queue slot freed either way. */
export async function collectReleased(s: Started): Promise<{ text: string; outcome: Outcome }> {
  try {
    return await collect(s.run);
  } finally {
    s.release();
  }
}

/**
 * A streamed reply: the route's frames, then on a failure one error frame in the route's protocol
 * (none when the client went away); the queue slot is freed however it ends, and a client that
 * cancels the stream cancels the run.
 */
export function streamResponse(
  s: Started,
  headers: Record<string, string>,
  frames: () => AsyncGenerator<string, void, void>,
  errorFrame: (e: ApiError) => string,
): Response {
  async function* guarded(): AsyncGenerator<string, void, void> {
    try {
      yield* frames();
    } catch (e) {
      if (!isAbort(e)) yield errorFrame(toApiError(e));
    } finally {
      s.release();
    }
  }
  return sseResponse(guarded(), headers, () => {
    s.run.cancel();
    s.release();
  });
}

/** `x-mesh-served-by: peerA;layers=0-16, peerB;layers=16-32;mesh=open` (layer ranges are [start, end)). */
export function servedByHeader(servedBy: readonly ServedBy[]): Record<string, string> {
  if (!servedBy.length) return {};
  return { 'x-mesh-served-by': servedBy.map((s) => `${s.peer};layers=${s.layers[0]}-${s.layers[1]}${s.mesh ? `;mesh=${s.mesh}` : ''}`).join(', ') };
}

/** /v1/models' `mesh` of a model whose provider says who would compute it now (absent otherwise). */
export function modelMesh(m: ModelDescriptor): { mesh?: MeshInfo['served_by'] } {
  return m.mesh ? { mesh: meshInfo(m.mesh).served_by } : {};
}

export function meshInfo(servedBy: readonly ServedBy[], rejected?: MeshInfo['rejected_tool_calls']): MeshInfo {
  const info: MeshInfo = { served_by: servedBy.map((s) => ({ peer: s.peer, layers: [s.layers[0], s.layers[1]], ...(s.mesh ? { mesh: s.mesh } : {}) })) };
  if (rejected?.length) info.rejected_tool_calls = rejected;
  return info;
}

export function jsonResponse(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
  });
}

export function isAbort(e: unknown): boolean {
  return e instanceof DOMException && e.name === 'AbortError';
}

export function newId(prefix: string): string {
  return `${prefix}${crypto.randomUUID().replaceAll('-', '')}`;
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);
