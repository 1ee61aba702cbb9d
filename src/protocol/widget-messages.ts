// Messages between the embeddable widget (widget.js on a host page) and its frame (the app's origin,
// ?embed=widget). Versioned and validated on receipt: each side checks the other's origin too, but a
// message is still data from another site, so nothing is trusted for its shape.

export const WIDGET_PROTOCOL_VERSION = 1;
/** Marks our messages among whatever else a host page posts around. */
export const WIDGET_CHANNEL = 'mesh-llm-widget';

export interface WidgetChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

interface Envelope {
  channel: typeof WIDGET_CHANNEL;
  v: typeof WIDGET_PROTOCOL_VERSION;
}

/** Widget → frame. */
export type WidgetRequest =
  | (Envelope & { type: 'hello' })
  | (Envelope & { type: 'chat'; id: string; model: string; messages: WidgetChatMessage[]; maxTokens: number })
  | (Envelope & { type: 'stop'; id: string });

/** Frame → widget. `models` empty = nothing is served right now. */
export type WidgetReply =
  | (Envelope & { type: 'ready'; models: string[] })
  | (Envelope & { type: 'refused'; reason: string })
  | (Envelope & { type: 'delta'; id: string; text: string })
  | (Envelope & { type: 'done'; id: string; tokens: number; tokensPerSecond: number | null; finishReason: string | null })
  | (Envelope & { type: 'error'; id: string; title: string; detail: string });

type Without<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

export function widgetMessage<T extends WidgetRequest | WidgetReply>(body: Without<T, 'channel' | 'v'>): T {
  return { channel: WIDGET_CHANNEL, v: WIDGET_PROTOCOL_VERSION, ...body } as T;
}

/** Bounds on what a frame accepts: a host page cannot make it send an unbounded request. */
export const WIDGET_LIMITS = { messages: 64, contentChars: 16_000, maxTokens: 2048, idChars: 64, modelChars: 200 } as const;

const isRecord = (data: unknown): data is Record<string, unknown> => typeof data === 'object' && data !== null;
const isString = (value: unknown, max: number): value is string => typeof value === 'string' && value.length <= max;

function envelopeOk(data: unknown): data is Record<string, unknown> {
  return isRecord(data) && data.channel === WIDGET_CHANNEL && data.v === WIDGET_PROTOCOL_VERSION && typeof data.type === 'string';
}

export function isWidgetRequest(data: unknown): data is WidgetRequest {
  if (!envelopeOk(data)) return false;
  switch (data.type) {
    case 'hello':
      return true;
    case 'stop':
      return isString(data.id, WIDGET_LIMITS.idChars);
    case 'chat': {
      if (!isString(data.id, WIDGET_LIMITS.idChars) || !isString(data.model, WIDGET_LIMITS.modelChars)) return false;
      if (typeof data.maxTokens !== 'number' || !Number.isInteger(data.maxTokens) || data.maxTokens < 1 || data.maxTokens > WIDGET_LIMITS.maxTokens)
        return false;
      const messages = data.messages;
      if (!Array.isArray(messages) || messages.length === 0 || messages.length > WIDGET_LIMITS.messages) return false;
      return messages.every(
        (m) => isRecord(m) && (m.role === 'system' || m.role === 'user' || m.role === 'assistant') && isString(m.content, WIDGET_LIMITS.contentChars),
      );
    }
    default:
      return false;
  }
}

export function isWidgetReply(data: unknown): data is WidgetReply {
  if (!envelopeOk(data)) return false;
  switch (data.type) {
    case 'ready':
      return Array.isArray(data.models) && data.models.every((m) => typeof m === 'string');
    case 'refused':
      return typeof data.reason === 'string';
    case 'delta':
      return typeof data.id === 'string' && typeof data.text === 'string';
    case 'done':
      return typeof data.id === 'string' && typeof data.tokens === 'number' && (data.tokensPerSecond === null || typeof data.tokensPerSecond === 'number');
    case 'error':
      return typeof data.id === 'string' && typeof data.title === 'string' && typeof data.detail === 'string';
    default:
      return false;
  }
}
