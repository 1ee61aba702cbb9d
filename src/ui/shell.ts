// The app frame: header with the product name, navigation between views, the current view, footer.
// Built views are handed in by the app (they stay alive while hidden, so a streaming reply or a
// download goes on when the person looks elsewhere); the others are placeholders saying what arrives.
import { h, svg } from './dom.ts';
import { markSvg } from './logo.ts';
import type { MeshJoinState } from '../client/mesh-join.ts';
import { meshPill } from './mesh-describe.ts';
import { StatusPanel } from './status-panel.ts';
import { hashFor, VIEWS, viewFromHash, type ViewId, type ViewInfo } from './views.ts';

export const PRODUCT_NAME = 'Mesh LLM';

/** A built view: its content below the heading, created once and kept. */
export interface ViewContent {
  element: HTMLElement;
  /** Called each time the view is shown (e.g. to refresh what may have changed meanwhile). */
  shown?(): void;
}

/** Factories get the shell, so Home can place the shell's status panel beside its own cards. */
export type ViewFactories = Partial<Record<ViewId, (shell: AppShell) => ViewContent>>;

export class AppShell {
  readonly status = new StatusPanel();
  readonly #factories: ViewFactories;
  readonly #built = new Map<ViewId, ViewContent>();
  readonly #main: HTMLElement;
  readonly #links = new Map<ViewId, HTMLAnchorElement>();
  readonly #network: HTMLElement;
  #mesh: (() => MeshJoinState) | undefined;

  constructor(root: HTMLElement, views: ViewFactories = {}) {
    this.#factories = views;
    const nav = h('nav', { class: 'app-nav', 'aria-label': 'Main' });
    const list = h('ul', { role: 'list' });
    for (const view of VIEWS) {
      const link = h('a', { href: hashFor(view.id), 'data-view-link': view.id }, view.title);
      this.#links.set(view.id, link);
      list.append(h('li', {}, link));
    }
    nav.append(list);
    this.#network = h('span', { class: 'network-pill', role: 'status' });
    this.#main = h('main', { id: 'content', class: 'app-main', tabindex: '-1' });

    root.replaceChildren(
      h('a', { class: 'skip-link', href: '#content' }, 'Skip to content'),
      h(
        'header',
        { class: 'app-header' },
        h(
          'div',
          { class: 'header-inner' },
          h(
            'a',
            { class: 'brand', href: hashFor('home') },
            svg(markSvg({ tile: true, size: 36 })),
            h(
              'span',
              { class: 'brand-text' },
              h('span', { class: 'brand-name' }, PRODUCT_NAME),
              h('span', { class: 'brand-tag' }, 'Inference shared between browsers'),
            ),
          ),
          nav,
          this.#network,
        ),
      ),
      this.#main,
      h(
        'footer',
        { class: 'app-footer' },
        h(
          'p',
          {},
          'Prompts are seen only by the peers that serve them: the companion, and the tabs running their layers. Nothing runs on this device until you choose to contribute.',
        ),
      ),
    );

    // The skip link targets #content, which is not a route: keep it from resetting the view.
    root.querySelector('.skip-link')!.addEventListener('click', (event) => {
      event.preventDefault();
      this.#main.focus();
    });
    addEventListener('hashchange', () => this.show(viewFromHash(location.hash), true));
    addEventListener('online', () => this.#updateNetwork());
    addEventListener('offline', () => this.#updateNetwork());
    this.#updateNetwork();
    this.show(viewFromHash(location.hash), false);
  }

  show(id: ViewId, moveFocus: boolean): void {
    const view = VIEWS.find((v) => v.id === id)!;
    for (const [viewId, link] of this.#links) {
      if (viewId === id) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    this.#main.dataset.view = id;
    const factory = this.#factories[id];
    let content: ViewContent | undefined;
    if (factory) {
      content = this.#built.get(id) ?? factory(this);
      this.#built.set(id, content);
    }
    this.#main.replaceChildren(...(content ? [viewHeading(view), content.element] : id === 'home' ? this.#home(view) : placeholder(view)));
    content?.shown?.();
    document.title = id === 'home' ? PRODUCT_NAME : `${view.title} · ${PRODUCT_NAME}`;
    // Screen readers hear the new view's title instead of silence after a route change.
    if (moveFocus) this.#main.querySelector<HTMLElement>('h1')?.focus();
  }

  #home(view: ViewInfo): Node[] {
    const contribute = h(
      'section',
      { class: 'card contribute', 'aria-labelledby': 'contribute-title' },
      h('h2', { id: 'contribute-title' }, 'Contribute this tab'),
      h(
        'p',
        { class: 'lead' },
        'Run a share of a language model’s layers for the mesh, on this device’s GPU or CPU. You choose how much memory it may use, and you can pause at any time.',
      ),
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'button', class: 'button primary', disabled: true, 'aria-describedby': 'contribute-note' }, 'Start contributing'),
        h('a', { class: 'button', href: hashFor('models') }, 'Browse models'),
      ),
      h(
        'p',
        { id: 'contribute-note', class: 'note' },
        'Contributing opens when the inference engine lands. Until then, this page checks that your device is ready.',
      ),
      comingList(view),
    );
    return [viewHeading(view), h('div', { class: 'home-grid' }, contribute, this.status.element)];
  }

  /** Makes the header pill follow the tab's mesh state (joined, serving layers a–b, not in a mesh). */
  followMesh(mesh: { state(): MeshJoinState; onChange(listener: () => void): unknown }): void {
    this.#mesh = () => mesh.state();
    mesh.onChange(() => this.#updateNetwork());
    this.#updateNetwork();
  }

  // "Offline" comes from the device's network, not from this app's server; otherwise the mesh state.
  #updateNetwork(): void {
    const pill = meshPill(this.#mesh?.() ?? { status: 'none' }, navigator.onLine);
    this.#network.dataset.state = pill.state;
    if (this.#network.textContent !== pill.text) this.#network.textContent = pill.text;
  }
}

function viewHeading(view: ViewInfo): HTMLElement {
  return h('div', { class: 'view-heading' }, h('h1', { tabindex: '-1' }, view.title), h('p', {}, view.summary));
}

function comingList(view: ViewInfo): HTMLElement {
  return h('div', { class: 'coming' }, h('h3', {}, 'Coming here'), h('ul', {}, ...view.coming.map((item) => h('li', {}, item))));
}

function placeholder(view: ViewInfo): Node[] {
  return [
    viewHeading(view),
    h(
      'section',
      { class: 'card placeholder', 'aria-label': `${view.title}: not built yet` },
      h('span', { class: 'badge' }, 'In development'),
      comingList(view),
    ),
  ];
}
