// The host page's side of the widget ↔ frame channel: loads the frame, says hello until it answers,
// and hands on only messages from that frame's window and the app's origin.
import { isWidgetReply, widgetMessage, type WidgetChatMessage, type WidgetReply, type WidgetRequest } from '../protocol/widget-messages.ts';

export const EMBED_PATH = '/?embed=widget';
const HELLO_EVERY_MS = 400;
const GIVE_UP_MS = 20_000;

export interface BridgeEvents {
  onReply(reply: WidgetReply): void;
  /** The frame never answered (app server down, blocked by the page's CSP, offline). */
  onUnreachable(): void;
}

export class FrameBridge {
  readonly frame: HTMLIFrameElement;
  readonly #origin: string;
  readonly #events: BridgeEvents;
  #answered = false;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(appOrigin: string, events: BridgeEvents) {
    this.#origin = appOrigin;
    this.#events = events;
    this.frame = document.createElement('iframe');
    this.frame.src = appOrigin + EMBED_PATH;
    this.frame.title = 'Chat connection (no visible content)';
    this.frame.setAttribute('aria-hidden', 'true');
    this.frame.tabIndex = -1;
    this.frame.hidden = true;
    addEventListener('message', this.#onMessage);
  }

  /** Starts saying hello: the frame's script may install its listener after its load event. */
  connect(): void {
    if (this.#timer) return;
    const started = Date.now();
    const hello = () => {
      if (this.#answered) return clearInterval(this.#timer);
      if (Date.now() - started > GIVE_UP_MS) {
        clearInterval(this.#timer);
        this.#events.onUnreachable();
        return;
      }
      this.#send(widgetMessage<WidgetRequest>({ type: 'hello' }));
    };
    this.#timer = setInterval(hello, HELLO_EVERY_MS);
    this.frame.addEventListener('load', hello);
  }

  chat(id: string, model: string, messages: WidgetChatMessage[], maxTokens: number): void {
    this.#send(widgetMessage<WidgetRequest>({ type: 'chat', id, model, messages, maxTokens }));
  }

  stop(id: string): void {
    this.#send(widgetMessage<WidgetRequest>({ type: 'stop', id }));
  }

  #send(message: WidgetRequest): void {
    // targetOrigin: if the frame was navigated elsewhere, the browser drops the message.
    this.frame.contentWindow?.postMessage(message, this.#origin);
  }

  #onMessage = (event: MessageEvent) => {
    if (event.origin !== this.#origin || event.source !== this.frame.contentWindow || !isWidgetReply(event.data)) return;
    if (event.data.type === 'ready' || event.data.type === 'refused') this.#answered = true;
    this.#events.onReply(event.data);
  };
}
