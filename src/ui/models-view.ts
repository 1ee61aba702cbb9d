// The Models view: the weight cache's use and limit, the bundled test models, curated real models and
// a custom URL, each with download progress (bytes, rate, time left), pause/resume and delete. What
// a row shows as stored is what the engine loads from: a model downloaded here costs no network
// bytes when this tab serves it, and layers a mesh stage read show up here as partly stored.
import { customModel, type CatalogModel } from '../client/models-catalog.ts';
import type { ModelEntry, ModelsManager, StorageUse } from '../client/models-manager.ts';
import type { TabEngine, TabEngineState } from '../client/tab-engine.ts';
import { formatBytes, formatDuration } from './format.ts';
import { h } from './dom.ts';
import type { ViewContent } from './shell.ts';

export interface ModelsViewDeps {
  manager: ModelsManager;
  /** Model ids the API serves now (marks them "Served now"); rejects when the API is away. */
  servedModels(): Promise<string[]>;
  /** Runs a stored model in this tab ("Use in this tab"). */
  tab: TabEngine;
}

export function modelsView({ manager, servedModels, tab }: ModelsViewDeps): ViewContent {
  let served = new Set<string>();
  const rows = new Map<string, ModelRow>();
  const bundledList = h('ul', { class: 'model-list', role: 'list', 'aria-label': 'Test models' });
  const curatedList = h('ul', { class: 'model-list', role: 'list', 'aria-label': 'Recommended models' });
  const customList = h('ul', { class: 'model-list', role: 'list', 'aria-label': 'Your models' });
  const storage = storageCard();

  const urlInput = h('input', {
    id: 'custom-url',
    type: 'url',
    placeholder: 'https://huggingface.co/…/resolve/main/model.gguf',
    'aria-describedby': 'custom-url-hint custom-url-error',
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const urlError = h('p', { id: 'custom-url-error', class: 'field-error', role: 'alert' });
  const form = h(
    'form',
    { class: 'custom-form', 'aria-label': 'Add a model by URL' },
    h('label', { for: 'custom-url' }, 'GGUF file URL'),
    h('div', { class: 'custom-row' }, urlInput, h('button', { type: 'submit', class: 'button primary' }, 'Add')),
    h(
      'p',
      { id: 'custom-url-hint', class: 'field-hint' },
      'Any .gguf file whose server allows downloads from other sites (Hugging Face does). For a split model, the link to its first part.',
    ),
    urlError,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    try {
      const model = customModel(urlInput.value, location.origin);
      urlError.textContent = '';
      manager.addCustom(model);
      urlInput.value = '';
    } catch (error) {
      urlError.textContent = (error as Error).message;
    }
  });

  const render = () => {
    for (const entry of manager.entries()) {
      let row = rows.get(entry.model.id);
      if (!row) {
        row = modelRow(entry.model, manager, tab);
        rows.set(entry.model.id, row);
        const list = entry.model.source === 'bundled' ? bundledList : entry.model.source === 'curated' ? curatedList : customList;
        list.append(row.element);
      }
      row.update(entry, served.has(entry.model.id), tab.state);
    }
    for (const [id, row] of rows) {
      if (!manager.entry(id)) {
        row.element.remove();
        rows.delete(id);
      }
    }
    customList.hidden = customList.childElementCount === 0;
  };
  let storageTimer = 0;
  const refreshStorage = () => {
    clearTimeout(storageTimer);
    storageTimer = window.setTimeout(() => void manager.storageUse().then(storage.update), 300);
  };
  manager.subscribe(() => {
    render();
    refreshStorage();
  });
  tab.subscribe(() => {
    render();
    if (tab.state.kind === 'ready')
      servedModels().then(
        (ids) => {
          served = new Set(ids);
          render();
        },
        () => {},
      );
  });

  const element = h(
    'div',
    { class: 'models-view' },
    storage.element,
    section(
      'models-bundled',
      'Test models',
      'Served by npm start from this machine: a small model trained on the King James Bible (the default), and test models with random weights that test the machinery and write gibberish.',
      bundledList,
    ),
    section('models-curated', 'Small instruct models', 'Real models from Hugging Face, 4-bit unless noted. Downloading needs internet access.', curatedList),
    section('models-custom', 'Your models', 'Add a model by its link. Downloads resume where they stopped, even after a reload.', customList, form),
  );
  render();
  void manager.load();
  return {
    element,
    shown: () => {
      void manager.refresh(); // another tab or a worker may have stored or evicted weights meanwhile
      servedModels().then(
        (ids) => {
          served = new Set(ids);
          render();
        },
        () => {},
      );
    },
  };
}

function section(id: string, title: string, lead: string, ...body: HTMLElement[]): HTMLElement {
  return h(
    'section',
    { class: 'card models-section', 'aria-labelledby': `${id}-title` },
    h('h2', { id: `${id}-title` }, title),
    h('p', { class: 'lead' }, lead),
    ...body,
  );
}

interface ModelRow {
  element: HTMLElement;
  update(entry: ModelEntry, servedNow: boolean, tabState: TabEngineState): void;
}

const STATE_TEXT: Record<ModelEntry['state'], string> = {
  none: 'Not downloaded',
  downloading: 'Downloading',
  paused: 'Paused',
  done: 'On this device',
  error: 'Failed',
};

function modelRow(model: CatalogModel, manager: ModelsManager, tab: TabEngine): ModelRow {
  const titleId = `model-${model.id.replace(/[^a-z0-9_-]/gi, '-')}`;
  const badge = h('span', { class: 'state-badge' });
  const servedBadge = h('span', { class: 'badge', hidden: true }, 'Served now');
  const progress = h('progress', { max: '1', value: '0', 'aria-labelledby': titleId });
  const detail = h('p', { class: 'model-progress-text', 'data-testid': 'progress-text' });
  const error = h('p', { class: 'field-error', role: 'alert' });
  const primary = h('button', { type: 'button', class: 'button small', 'aria-describedby': titleId });
  const remove = h('button', { type: 'button', class: 'button small quiet', 'aria-describedby': titleId }, 'Delete');
  const useHere = h(
    'button',
    { type: 'button', class: 'button small', 'aria-describedby': titleId, 'data-testid': 'use-in-tab', hidden: true },
    'Use in this tab',
  );
  const tabStatus = h('p', { class: 'model-progress-text', 'data-testid': 'tab-status', role: 'status' });
  const stopHere = h(
    'button',
    { type: 'button', class: 'button small quiet', 'aria-describedby': titleId, 'data-testid': 'stop-in-tab', hidden: true },
    'Stop using here',
  );
  stopHere.addEventListener('click', () => void tab.stop());
  let current: ModelEntry | null = null;
  useHere.addEventListener('click', () => {
    if (!current) return;
    void tab.use(model.id, new URL(model.url, location.origin).href, current.total ?? current.received).catch(() => {}); // the state says why
  });
  primary.addEventListener('click', () => {
    if (!current) return;
    if (current.state === 'downloading') manager.pause(model.id);
    else if (current.state !== 'done') void manager.download(model.id);
  });
  remove.addEventListener('click', () => void manager.delete(model.id));

  const element = h(
    'li',
    { class: 'model-row', 'data-model-id': model.id },
    h(
      'div',
      { class: 'model-info' },
      h('div', { class: 'model-title-row' }, h('h3', { id: titleId }, model.title), badge, servedBadge),
      h('p', { class: 'model-note' }, model.note, ' ', h('a', { href: new URL(model.url, location.origin).href, class: 'model-url' }, linkText(model))),
      progress,
      detail,
      error,
      tabStatus,
    ),
    h('div', { class: 'model-actions' }, useHere, stopHere, primary, remove),
  );

  return {
    element,
    update(entry, servedNow, tabState) {
      current = entry;
      const mine = tabState.kind !== 'idle' && tabState.id === model.id;
      element.dataset.tab = mine ? tabState.kind : '';
      useHere.hidden = entry.state !== 'done' || (mine && (tabState.kind === 'ready' || tabState.kind === 'loading'));
      stopHere.hidden = !(mine && (tabState.kind === 'ready' || tabState.kind === 'loading'));
      tabStatus.replaceChildren(...(mine ? tabStatusText(tabState) : []));
      tabStatus.hidden = !mine;
      element.dataset.state = entry.state;
      element.dataset.received = String(entry.received);
      element.dataset.total = String(entry.total ?? '');
      element.dataset.fetchedThisRun = String(entry.fetchedThisRun);
      badge.textContent = STATE_TEXT[entry.state];
      badge.dataset.state = entry.state;
      servedBadge.hidden = !servedNow;
      const fraction = entry.total ? Math.min(1, entry.received / entry.total) : 0;
      progress.value = fraction;
      progress.hidden = entry.state === 'none' || entry.state === 'done';
      progress.setAttribute('aria-valuetext', entry.total ? `${Math.floor(fraction * 100)} percent` : formatBytes(entry.received));
      if (mine && tabState.kind === 'loading' && entry.state === 'done') {
        // A stored model loading into this tab: the same bar shows the load.
        const loaded = tabState.bytesTotal ? Math.min(1, tabState.bytesLoaded / tabState.bytesTotal) : 0;
        progress.value = loaded;
        progress.hidden = false;
        progress.setAttribute('aria-valuetext', `loading, ${Math.floor(loaded * 100)} percent`);
      }
      detail.textContent = progressText(entry);
      error.textContent = entry.error ?? '';
      error.hidden = !entry.error;
      primary.hidden = entry.state === 'done';
      primary.textContent =
        entry.state === 'downloading' ? 'Pause' : entry.state === 'paused' ? 'Resume' : entry.state === 'error' && entry.received > 0 ? 'Retry' : 'Download';
      // One strong button at a time: the one that continues a download someone started.
      primary.classList.toggle('primary', entry.state === 'paused' || (entry.state === 'error' && entry.received > 0));
      remove.hidden = entry.state === 'none' || (entry.state === 'error' && entry.received === 0);
    },
  };
}

function tabStatusText(state: TabEngineState): (string | Node)[] {
  switch (state.kind) {
    case 'loading':
      return [`Loading in this tab… ${formatBytes(state.bytesLoaded)}${state.bytesTotal ? ` of ${formatBytes(state.bytesTotal)}` : ''}`];
    case 'ready': {
      const on = state.backend === 'webgpu' ? 'WebGPU' : `WASM, ${state.threads} thread${state.threads === 1 ? '' : 's'}`;
      return [`Running in this tab (${on}, loaded in ${formatDuration(state.loadMs / 1000)}): the Playground and /v1 answer with it when no companion does.`];
    }
    case 'error':
      return /^Too large/.test(state.message)
        ? [state.message, ' ', h('a', { href: '#/', 'data-testid': 'join-mesh' }, 'Join a mesh')]
        : [`Could not run it in this tab: ${state.message}`];
    case 'idle':
      return [];
  }
}

function progressText(e: ModelEntry): string {
  const size = e.total === null ? 'size unknown' : formatBytes(e.total);
  switch (e.state) {
    case 'none':
      if (e.evicted) return 'Removed to make room for another model (the least recently used goes first)';
      return e.total === null ? 'Size shown once the download starts' : `About ${size}`;
    case 'done':
      return `${formatBytes(e.received)} stored on this device`;
    case 'paused':
      return `${formatBytes(e.received)} of ${size} stored · resumes from here`;
    case 'error':
      return e.received ? `${formatBytes(e.received)} of ${size} stored` : '';
    case 'downloading': {
      const parts = [`${formatBytes(e.received)} of ${size}`];
      parts.push(e.rate ? `${formatBytes(e.rate)}/s` : 'starting…');
      if (e.secondsLeft !== null) parts.push(`${formatDuration(e.secondsLeft)} left`);
      return parts.join(' · ');
    }
  }
}

function storageCard(): { element: HTMLElement; update(use: StorageUse): void } {
  const meter = h('meter', { min: '0', max: '1', value: '0', 'aria-labelledby': 'storage-title' });
  const text = h('p', { class: 'storage-text', 'data-testid': 'storage-text' }, 'Measuring…');
  const browser = h('p', { class: 'storage-text', 'data-testid': 'storage-browser' });
  const element = h(
    'section',
    { class: 'card storage-card', 'aria-labelledby': 'storage-title' },
    h('h2', { id: 'storage-title' }, 'Model storage on this device'),
    meter,
    text,
    browser,
  );
  return {
    element,
    update({ usage, quota, persisted, cacheBytes, cacheBudget, cacheUnavailable }) {
      if (cacheUnavailable !== null) {
        text.textContent = `Models cannot be kept in this browser, so they are fetched again on every load (${cacheUnavailable}).`;
      } else if (cacheBytes !== null && cacheBudget !== null) {
        meter.value = cacheBudget ? Math.min(1, cacheBytes / cacheBudget) : 0;
        meter.setAttribute('aria-valuetext', `${formatBytes(cacheBytes)} of ${formatBytes(cacheBudget)}`);
        text.textContent = `${formatBytes(cacheBytes)} used of ${formatBytes(cacheBudget)} for models. A download that needs more removes the least recently used model first.`;
      }
      browser.hidden = usage === null || quota === null;
      if (usage !== null && quota !== null) {
        browser.textContent = `The browser counts ${formatBytes(usage)} for this site and allows ${formatBytes(quota)}${persisted ? '' : '; it may clear it when the disk runs low'}.`;
      }
    },
  };
}

/** Bundled models by path (same origin); others by host and file name, the part a person checks. */
function linkText(model: CatalogModel): string {
  const url = new URL(model.url, location.origin);
  if (model.source === 'bundled') return url.pathname;
  return `${url.host} › ${decodeURIComponent(url.pathname.split('/').pop() ?? '')}`;
}
