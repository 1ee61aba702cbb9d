// The playground's API client: one streamed chat completion through the app's /v1 route, reported
// as it happens (text deltas, which peers served which layers, timing), with errors a person can act on.
import { readSse } from './playground-sse.ts';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface SamplingSettings {
  temperature: number;
  topP: number;
  maxTokens: number;
  /** Empty = a fresh random seed each time. */
  seed: number | null;
}

export interface ServedBy {
  peer: string;
  layers: [number, number];
}

export interface ChatStats {
  /** Content deltas received (the server sends about one per token). */
  tokens: number;
  /** completion_tokens from the usage frame, when the server sent one. */
  usageTokens: number | null;
  /** From the request to the first content, and to the end. */
  firstTokenMs: number | null;
  totalMs: number;
  tokensPerSecond: number | null;
  servedBy: ServedBy[];
  finishReason: string | null;
  /** x-mesh-via: who answered (service worker or page; companion or local). */
  via: string;
}

export type ChatEvent = { type: 'open'; servedBy: ServedBy[]; via: string } | { type: 'delta'; text: string } | { type: 'done'; stats: ChatStats };

export type PlaygroundErrorCode = 'unreachable' | 'no_peer' | 'rejected' | 'stream_error' | 'bad_response';

export class PlaygroundError extends Error {
  readonly code: PlaygroundErrorCode;
  readonly status: number | null;
  constructor(code: PlaygroundErrorCode, message: string, status: number | null = null) {
    super(message);
    this.name = 'PlaygroundError';
    this.code = code;
    this.status = status;
  }
}

export type ApiFetch = (input: string, init?: RequestInit) => Promise<Response>;

export function chatBody(model: string, messages: ChatMessage[], sampling: SamplingSettings): Record<string, unknown> {
  return {
    model,
    messages,
    stream: true,
    stream_options: { include_usage: true },
    temperature: sampling.temperature,
    top_p: sampling.topP,
    max_tokens: sampling.maxTokens,
    ...(sampling.seed === null ? {} : { seed: sampling.seed }),
  };
}

/** `peerA;layers=0-16, peerB;layers=16-32;check=failed` → [{peer, layers}], the header form of mesh.served_by (other parameters skipped). */
export function parseServedByHeader(header: string | null): ServedBy[] {
  if (!header) return [];
  const out: ServedBy[] = [];
  for (const part of header.split(',')) {
    const match = /^\s*([^;]+);\s*layers=(\d+)-(\d+)(?:;[^;,]*)*\s*$/.exec(part);
    if (match) out.push({ peer: match[1].trim(), layers: [Number(match[2]), Number(match[3])] });
  }
  return out;
}

/**
 * Streams one reply. Resolves with the final stats when the server finishes, or (with the partial
 * stats) when `signal` aborts it; aborting cancels the response body, which stops the generation.
 */
export async function streamChat(
  apiFetch: ApiFetch,
  body: Record<string, unknown>,
  onEvent: (event: ChatEvent) => void,
  signal: AbortSignal,
  now: () => number = () => performance.now(),
): Promise<ChatStats> {
  const started = now();
  let response: Response;
  try {
    response = await apiFetch('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal });
  } catch (error) {
    if (signal.aborted) return emptyStats(now() - started, '', []);
    throw new PlaygroundError('unreachable', `the API did not answer (${(error as Error).message}); check that npm start is running`);
  }
  if (!response.ok) throw await httpError(response);
  if (!response.body || !response.headers.get('content-type')?.includes('text/event-stream')) {
    throw new PlaygroundError(
      'bad_response',
      `the API answered ${response.status} with ${response.headers.get('content-type') ?? 'no content type'} instead of an event stream`,
    );
  }

  const stats = emptyStats(0, response.headers.get('x-mesh-via') ?? '', parseServedByHeader(response.headers.get('x-mesh-served-by')));
  onEvent({ type: 'open', servedBy: stats.servedBy, via: stats.via });
  try {
    for await (const event of readSse(response.body, signal)) {
      if (event.data === '[DONE]') break;
      let frame: ChunkFrame;
      try {
        frame = JSON.parse(event.data) as ChunkFrame;
      } catch {
        throw new PlaygroundError('bad_response', `the stream sent a frame that is not JSON: ${event.data.slice(0, 80)}`);
      }
      if (frame.error) throw new PlaygroundError('stream_error', `the model stopped with an error: ${frame.error.message ?? 'unknown error'}`);
      if (frame.mesh?.served_by?.length) stats.servedBy = frame.mesh.served_by.map((s) => ({ peer: s.peer, layers: [s.layers[0], s.layers[1]] }));
      if (frame.usage) stats.usageTokens = frame.usage.completion_tokens ?? null;
      const choice = frame.choices?.[0];
      if (choice?.finish_reason) stats.finishReason = choice.finish_reason;
      const text = choice?.delta?.content;
      if (text) {
        stats.tokens++;
        stats.firstTokenMs ??= now() - started;
        onEvent({ type: 'delta', text });
      }
    }
  } catch (error) {
    if (!signal.aborted) throw error;
  }
  stats.totalMs = now() - started;
  if (signal.aborted) stats.finishReason = 'stopped';
  const generated = stats.usageTokens ?? stats.tokens;
  // Decode speed: tokens after the first over the time since it arrived (the first pays for the prompt).
  if (generated > 1 && stats.firstTokenMs !== null && stats.totalMs > stats.firstTokenMs)
    stats.tokensPerSecond = (generated - 1) / ((stats.totalMs - stats.firstTokenMs) / 1000);
  onEvent({ type: 'done', stats });
  return stats;
}

interface ChunkFrame {
  error?: { message?: string };
  mesh?: { served_by?: ServedBy[] };
  usage?: { completion_tokens?: number } | null;
  choices?: { delta?: { content?: string }; finish_reason?: string | null }[];
}

function emptyStats(totalMs: number, via: string, servedBy: ServedBy[]): ChatStats {
  return { tokens: 0, usageTokens: null, firstTokenMs: null, totalMs, tokensPerSecond: null, servedBy, finishReason: null, via };
}

async function httpError(response: Response): Promise<PlaygroundError> {
  let message = '';
  try {
    const body = (await response.json()) as { error?: { message?: string } | string };
    message = typeof body.error === 'string' ? body.error : (body.error?.message ?? '');
  } catch {
    // not JSON: the status says enough
  }
  if (response.status === 503) {
    // The API's own message already says what is missing and how to fix it.
    const text = message ? `${message[0].toUpperCase()}${message.slice(1)}` : 'No peer can serve this model right now; start one with npm start, then retry.';
    return new PlaygroundError('no_peer', text, 503);
  }
  return new PlaygroundError('rejected', `The API refused the request (${response.status})${message ? `: ${message}` : ''}.`, response.status);
}

/** A model the API serves, and where it runs: 'tab' (this browser), 'mesh', 'companion', or its owner's name. */
export interface ModelChoice {
  id: string;
  runs: string;
}

/** Where each model runs, from the `served_from` the app's route adds, else the companion's `owned_by`. */
export async function listModelChoices(apiFetch: ApiFetch): Promise<ModelChoice[]> {
  const body = await modelList(apiFetch);
  return (body.data ?? []).flatMap((m) =>
    typeof m.id === 'string'
      ? [{ id: m.id, runs: typeof m.served_from === 'string' ? m.served_from : typeof m.owned_by === 'string' ? m.owned_by : 'companion' }]
      : [],
  );
}

/** GET /v1/models → the ids the API serves now (empty when none). */
export async function listModels(apiFetch: ApiFetch): Promise<string[]> {
  const body = await modelList(apiFetch);
  return (body.data ?? []).map((m) => m.id).filter((id): id is string => typeof id === 'string');
}

async function modelList(apiFetch: ApiFetch): Promise<{ data?: { id?: unknown; served_from?: unknown; owned_by?: unknown }[] }> {
  let response: Response;
  try {
    response = await apiFetch('/v1/models', { cache: 'no-store' });
  } catch (error) {
    throw new PlaygroundError('unreachable', `the API did not answer (${(error as Error).message})`);
  }
  if (!response.ok) throw await httpError(response);
  return (await response.json()) as { data?: { id?: unknown; served_from?: unknown; owned_by?: unknown }[] };
}
