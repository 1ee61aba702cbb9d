// "New version — Reload": shown while a new service worker waits. Non-blocking (a status toast, not
// a dialog): the person may finish what they are doing; Later hides it until the next new version.
import { h } from './dom.ts';
import type { ServiceWorkerStatus } from './status-rows.ts';

export class UpdatePrompt {
  readonly element: HTMLElement;
  #dismissed = '';

  constructor(onReload: () => void) {
    const reload = h('button', { type: 'button', class: 'button primary', 'data-testid': 'update-reload' }, 'Reload');
    const later = h('button', { type: 'button', class: 'button quiet' }, 'Later');
    this.element = h(
      'div',
      { class: 'update-prompt', role: 'status', 'aria-live': 'polite', hidden: true, 'data-testid': 'update-prompt' },
      h('p', {}, h('strong', {}, 'New version available.'), ' Reload to use it.'),
      reload,
      later,
    );
    reload.addEventListener('click', () => {
      reload.disabled = true;
      reload.textContent = 'Reloading…';
      onReload();
    });
    later.addEventListener('click', () => {
      this.#dismissed = this.element.dataset.version ?? '';
      this.element.hidden = true;
    });
  }

  update(status: ServiceWorkerStatus): void {
    // The waiting build's version is not known here, only that one waits: a key per running version.
    const key = `after-${status.version}`;
    this.element.dataset.version = key;
    this.element.hidden = !status.updateWaiting || this.#dismissed === key;
  }
}
