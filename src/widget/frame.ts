// The widget's frame: a page of the app's origin (/?embed=widget) that a host page's widget talks to
// by postMessage. It is an API client of the companion (the companion's CORS admits the app's origin),
// not an engine: in a third-party frame storage is partitioned and the page is not cross-origin
// isolated, so it could neither reuse cached weights nor run threaded WASM.
import { chatBody, listModels, streamChat, type ApiFetch } from '../client/playground-chat.ts';
import { isWidgetRequest, widgetMessage, type WidgetReply, type WidgetRequest } from '../protocol/widget-messages.ts';
import type { EmbedDecision } from './embed-policy.ts';

export interface WidgetFrameDeps {
  apiFetch: ApiFetch;
  /** May a page of this origin use the frame? (src/widget/embed-policy.ts) */
  allow(origin: string): Promise<EmbedDecision>;
  describeError(error: unknown): { title: string; detail: string };
  /** The window that embeds us; replies go only there. */
  parent: Window;
}

export function startWidgetFrame(deps: WidgetFrameDeps): () => void {
  let parentOrigin: string | null = null;
  const running = new Map<string, AbortController>();
  const post = (message: WidgetReply, origin: string) => deps.parent.postMessage(message, origin);

  const onMessage = async (event: MessageEvent) => {
    // Only the embedding window, and only our messages: anything else on the page is ignored.
    if (event.source !== deps.parent || !isWidgetRequest(event.data)) return;
    const request: WidgetRequest = event.data;
    if (request.type === 'hello') {
      const decision = await deps.allow(event.origin);
      if (!decision.ok) {
        post(widgetMessage({ type: 'refused', reason: decision.reason }), event.origin);
        return;
      }
      parentOrigin = event.origin;
      const models = await listModels(deps.apiFetch).catch(() => []);
      post(widgetMessage({ type: 'ready', models }), parentOrigin);
      return;
    }
    // A chat before an accepted hello, or from a page that navigated to another origin, is dropped.
    if (event.origin !== parentOrigin) return;
    const origin = parentOrigin;
    if (request.type === 'stop') {
      running.get(request.id)?.abort();
      return;
    }
    if (running.has(request.id)) return;
    const controller = new AbortController();
    running.set(request.id, controller);
    try {
      let model = request.model;
      if (!model) model = (await listModels(deps.apiFetch))[0] ?? '';
      const body = chatBody(model, request.messages, { temperature: 0.7, topP: 0.95, maxTokens: request.maxTokens, seed: null });
      const stats = await streamChat(
        deps.apiFetch,
        body,
        (e) => {
          if (e.type === 'delta') post(widgetMessage({ type: 'delta', id: request.id, text: e.text }), origin);
        },
        controller.signal,
      );
      post(
        widgetMessage({
          type: 'done',
          id: request.id,
          tokens: stats.usageTokens ?? stats.tokens,
          tokensPerSecond: stats.tokensPerSecond,
          finishReason: stats.finishReason,
        }),
        origin,
      );
    } catch (error) {
      const { title, detail } = deps.describeError(error);
      post(widgetMessage({ type: 'error', id: request.id, title, detail }), origin);
    } finally {
      running.delete(request.id);
    }
  };
  const listener = (event: MessageEvent) => void onMessage(event);
  addEventListener('message', listener);
  return () => {
    removeEventListener('message', listener);
    for (const c of running.values()) c.abort();
  };
}
