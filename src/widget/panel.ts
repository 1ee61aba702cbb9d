// The widget's launcher and chat panel (inside the shadow root): the conversation, keyboard use
// (Escape closes, focus returns to the launcher), and the frame's replies drawn as they stream.
import type { WidgetChatMessage, WidgetReply } from '../protocol/widget-messages.ts';
import { h, svg } from '../ui/dom.ts';
import type { WidgetConfig } from './config.ts';

const CHAT_ICON =
  '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="M21 12a8 8 0 0 1-11.6 7.1L4 20l1-4.6A8 8 0 1 1 21 12z"/></svg>';
const CLOSE_ICON =
  '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" aria-hidden="true"><path d="M6 6l12 12M18 6L6 18"/></svg>';
const SEND_ICON =
  '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="M5 12h13M12 5l7 7-7 7"/></svg>';
const MESH_ICON =
  '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" aria-hidden="true"><circle cx="6" cy="7" r="2.5"/><circle cx="18" cy="7" r="2.5"/><circle cx="12" cy="18" r="2.5"/><path d="M8.3 8.2l2.6 7.6M15.7 8.2l-2.6 7.6M8.5 7h7"/></svg>';

export interface PanelActions {
  /** First open: the frame is created only when someone wants to chat. */
  onFirstOpen(): void;
  send(id: string, messages: WidgetChatMessage[]): void;
  stop(id: string): void;
}

type Turn = { role: 'user' | 'assistant'; content: string };

export class WidgetPanel {
  readonly element: HTMLElement;
  readonly #config: WidgetConfig;
  readonly #actions: PanelActions;
  readonly #launcher: HTMLButtonElement;
  readonly #panel: HTMLElement;
  readonly #log: HTMLElement;
  readonly #state: HTMLElement;
  readonly #input: HTMLTextAreaElement;
  readonly #send: HTMLButtonElement;
  readonly #turns: Turn[] = [];
  #opened = false;
  #ready = false;
  #current: { id: string; el: HTMLElement; turn: Turn } | null = null;
  #seq = 0;

  constructor(config: WidgetConfig, actions: PanelActions) {
    this.#config = config;
    this.#actions = actions;
    this.#state = h(
      'p',
      { class: 'state', 'data-state': 'connecting', 'data-testid': 'widget-state' },
      h('span', { class: 'dot', 'aria-hidden': 'true' }),
      h('span', {}, 'Connecting…'),
    );
    const close = h('button', { type: 'button', class: 'close', 'aria-label': 'Close chat' }, svg(CLOSE_ICON));
    this.#log = h('div', { class: 'log', role: 'log', 'aria-live': 'polite', 'aria-label': 'Conversation', tabindex: '0', 'data-testid': 'widget-log' });
    this.#log.append(h('p', { class: 'msg bot', 'data-testid': 'widget-greeting' }, config.greeting));
    this.#input = h('textarea', { id: 'mlw-input', rows: '1', placeholder: 'Write a message…', 'aria-describedby': 'mlw-foot' });
    this.#send = h('button', { type: 'submit', class: 'send', 'aria-label': 'Send', 'data-testid': 'widget-send' }, svg(SEND_ICON));
    const composer = h('form', { class: 'composer' }, h('label', { for: 'mlw-input', class: 'visually-hidden' }, 'Message'), this.#input, this.#send);
    this.#panel = h(
      'section',
      { class: 'panel', id: 'mlw-panel', role: 'dialog', 'aria-labelledby': 'mlw-title', hidden: true, 'data-testid': 'widget-panel' },
      h(
        'header',
        { class: 'head' },
        h('div', { class: 'avatar' }, svg(MESH_ICON)),
        h('div', { class: 'head-text' }, h('h2', { class: 'title', id: 'mlw-title' }, config.title), this.#state),
        close,
      ),
      this.#log,
      composer,
      h('p', { class: 'foot', id: 'mlw-foot' }, 'Replies are written by a language model on a Mesh LLM mesh; the peers serving it see your messages.'),
    );
    this.#launcher = h(
      'button',
      {
        type: 'button',
        class: 'launcher',
        'aria-expanded': 'false',
        'aria-controls': 'mlw-panel',
        'aria-label': `Open chat: ${config.title}`,
        'data-testid': 'widget-launcher',
      },
      svg(CHAT_ICON),
    );
    this.element = h('div', { class: 'root' }, this.#panel, this.#launcher);

    this.#launcher.addEventListener('click', () => this.toggle(this.#panel.hasAttribute('hidden')));
    close.addEventListener('click', () => this.toggle(false));
    this.#panel.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        event.stopPropagation();
        this.toggle(false);
      }
    });
    composer.addEventListener('submit', (event) => {
      event.preventDefault();
      if (this.#current) this.#actions.stop(this.#current.id);
      else this.#submit();
    });
    this.#input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        if (!this.#current) this.#submit();
      }
    });
    this.#input.addEventListener('input', () => {
      this.#input.style.height = 'auto';
      this.#input.style.height = `${Math.min(this.#input.scrollHeight + 2, 120)}px`;
    });
    this.#updateSend();
  }

  toggle(open: boolean): void {
    this.#panel.hidden = !open;
    this.#launcher.setAttribute('aria-expanded', String(open));
    this.#launcher.setAttribute('aria-label', `${open ? 'Close' : 'Open'} chat: ${this.#config.title}`);
    if (open) {
      if (!this.#opened) this.#actions.onFirstOpen();
      this.#opened = true;
      this.#input.focus();
    } else {
      this.#launcher.focus();
    }
  }

  /** What the frame said. */
  receive(reply: WidgetReply): void {
    switch (reply.type) {
      case 'ready':
        this.#ready = reply.models.length > 0 || this.#config.model !== '';
        this.#setState(this.#ready ? 'ready' : 'down', this.#ready ? 'Online' : 'No model is being served right now');
        break;
      case 'refused':
        this.#setState('down', 'Unavailable on this site');
        this.#appendError('This site cannot use the chat', reply.reason);
        break;
      case 'delta':
        if (reply.id !== this.#current?.id) return;
        this.#current.turn.content += reply.text;
        this.#current.el.textContent = this.#current.turn.content;
        this.#scroll();
        break;
      case 'done':
      case 'error': {
        if (reply.id !== this.#current?.id) return;
        const { el, turn } = this.#current;
        el.removeAttribute('data-streaming');
        el.removeAttribute('aria-busy');
        if (reply.type === 'error') {
          if (!turn.content) {
            el.remove();
            this.#turns.splice(this.#turns.indexOf(turn), 1);
          }
          this.#appendError(reply.title, reply.detail);
        } else if (!turn.content) {
          el.textContent = '(no reply)';
        }
        this.#current = null;
        this.#updateSend();
        break;
      }
    }
  }

  unreachable(): void {
    this.#setState('down', 'Cannot reach the chat service');
    this.#appendError('The chat service did not answer', `${this.#config.appOrigin} could not be reached. Try again later.`);
  }

  #submit(): void {
    const text = this.#input.value.trim();
    if (!text || !this.#ready) return;
    this.#input.value = '';
    this.#input.style.height = '';
    this.#turns.push({ role: 'user', content: text });
    this.#log.append(h('p', { class: 'msg me', 'data-testid': 'widget-user-message' }, text));
    const turn: Turn = { role: 'assistant', content: '' };
    this.#turns.push(turn);
    const el = h('p', { class: 'msg bot', 'data-streaming': 'true', 'aria-busy': 'true', 'data-testid': 'widget-reply' });
    this.#log.append(el);
    const id = `m${++this.#seq}-${Date.now().toString(36)}`;
    this.#current = { id, el, turn };
    this.#updateSend();
    this.#scroll();
    const messages: WidgetChatMessage[] = [{ role: 'assistant', content: this.#config.greeting }, ...this.#turns.filter((t) => t !== turn)];
    this.#actions.send(id, messages.slice(-40));
  }

  #appendError(title: string, detail: string): void {
    this.#log.append(h('div', { class: 'msg error', role: 'alert' }, h('strong', {}, title), detail));
    this.#scroll();
  }

  #setState(state: 'ready' | 'down', text: string): void {
    this.#state.dataset.state = state;
    this.#state.lastElementChild!.textContent = text;
    this.#updateSend();
  }

  #updateSend(): void {
    const streaming = this.#current !== null;
    this.#send.replaceChildren(streaming ? 'Stop' : svg(SEND_ICON));
    this.#send.setAttribute('aria-label', streaming ? 'Stop the reply' : 'Send');
    this.#send.disabled = !streaming && !this.#ready;
  }

  #scroll(): void {
    this.#log.scrollTop = this.#log.scrollHeight;
  }
}
