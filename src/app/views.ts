// Wires the app's API client, model storage and settings into the views the shell shows.
import { contributeCard, meshJoinSlot } from '../ui/contribute-card.ts';
import { SettingsStore } from '../ui/contribute-settings.ts';
import { h } from '../ui/dom.ts';
import { modelsView } from '../ui/models-view.ts';
import { playgroundView } from '../ui/playground-view.ts';
import type { ViewFactories } from '../ui/shell.ts';
import { companionApiResolver } from './companion-api.ts';
import { cachePartStore } from './models-cache-store.ts';
import { ModelsManager } from './models-manager.ts';
import { chatBody, listModels, PlaygroundError, streamChat, type ApiFetch } from './playground-chat.ts';

export interface AppViews {
  factories: ViewFactories;
  settings: SettingsStore;
  models: ModelsManager;
}

export function createViews(apiFetch: ApiFetch): AppViews {
  const settings = new SettingsStore(safeLocalStorage());
  const models = new ModelsManager(cachePartStore(), { origin: location.origin });
  const resolveApi = companionApiResolver(location.origin);
  const factories: ViewFactories = {
    home: (shell) => ({ element: h('div', { class: 'home-grid' }, h('div', { class: 'home-col' }, contributeCard(settings), meshJoinSlot()), shell.status.element) }),
    playground: () => playgroundView({
      listModels: () => listModels(apiFetch),
      stream: (model, messages, sampling, onEvent, signal) => streamChat(apiFetch, chatBody(model, messages, sampling), onEvent, signal),
      apiBase: resolveApi,
      describeError,
    }),
    models: () => modelsView({ manager: models, servedModels: () => listModels(apiFetch) }),
  };
  return { factories, settings, models };
}

export function describeError(error: unknown): { title: string; detail: string } {
  if (error instanceof PlaygroundError) {
    switch (error.code) {
      case 'no_peer':
        return { title: 'No peer can serve this model', detail: error.message };
      case 'unreachable':
        return { title: 'The API is unreachable', detail: error.message };
      case 'stream_error':
        return { title: 'The reply was cut off', detail: error.message };
      default:
        return { title: 'The request failed', detail: error.message };
    }
  }
  return { title: 'Something went wrong', detail: error instanceof Error ? error.message : String(error) };
}

function safeLocalStorage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null; // storage blocked: settings live for this page only
  }
}
