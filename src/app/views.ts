// Wires the app's API client, model storage and settings into the views the shell shows.
import { contributeCard } from '../ui/contribute-card.ts';
import { SettingsStore } from '../ui/contribute-settings.ts';
import { h } from '../ui/dom.ts';
import { meshJoinCard } from '../ui/mesh-join-card.ts';
import { meshCreateCard } from '../ui/mesh-create-card.ts';
import type { MeshHeadControl } from '../client/mesh-create.ts';
import { dashboardView } from '../ui/dashboard-view.ts';
import { modelsView } from '../ui/models-view.ts';
import { playgroundView, type PlaygroundDeps } from '../ui/playground-view.ts';
import type { ViewFactories } from '../ui/shell.ts';
import { BackgroundWatch } from '../client/background-watch.ts';
import { companionApiResolver } from '../client/companion-api.ts';
import { fetchCompanionHealth } from '../client/companion-health.ts';
import { describeError } from '../client/describe-error.ts';
import { publishedInvite, type MeshJoin } from '../client/mesh-join.ts';
import { MetricsStore } from '../client/metrics-store.ts';
import { dropLegacyDownloads, ModelsManager } from '../client/models-manager.ts';
import { chatBody, listModelChoices, listModels, streamChat, type ApiFetch } from '../client/playground-chat.ts';
import type { TabEngine } from '../client/tab-engine.ts';
import { sharedWeightCache } from '../storage/shared-cache.ts';

export { describeError };

export interface AppViews {
  factories: ViewFactories;
  settings: SettingsStore;
  models: ModelsManager;
  metrics: MetricsStore;
}

export function createViews(apiFetch: ApiFetch, mesh: MeshJoin, tab: TabEngine, meshHead: MeshHeadControl): AppViews {
  const settings = new SettingsStore(safeLocalStorage());
  const models = new ModelsManager({ cache: sharedWeightCache, origin: location.origin });
  void dropLegacyDownloads();
  const resolveApi = companionApiResolver(location.origin);
  const metrics = new MetricsStore();
  const background = new BackgroundWatch();
  // This computer's private mesh, asked of the companion once (it gives it only to its own machine).
  let machine: Promise<string | undefined> | undefined;
  const machineInvite = () => (machine ??= publishedInvite(location.origin));
  // The playground's replies and failures feed the dashboard's throughput plot and error list.
  const stream: PlaygroundDeps['stream'] = async (model, messages, sampling, onEvent, signal) => {
    try {
      const stats = await streamChat(apiFetch, chatBody(model, messages, sampling), onEvent, signal);
      metrics.recordReply({ at: Date.now(), model, tokens: stats.usageTokens ?? stats.tokens, tokensPerSecond: stats.tokensPerSecond, via: stats.via });
      return stats;
    } catch (error) {
      const { title, detail } = describeError(error);
      metrics.recordError({ at: Date.now(), where: 'Playground', title, detail });
      throw error;
    }
  };
  const factories: ViewFactories = {
    // Read in this order (on a phone, stacked so); on a wide screen Contribute and This device sit side
    // by side (about the same height) with the Mesh card across both below them (mesh.css, .home-wide).
    home: (shell) => ({
      element: h(
        'div',
        { class: 'home-grid' },
        contributeCard(settings, mesh, { background, machineInvite }),
        meshJoinCard(mesh, settings, { machineInvite }),
        shell.status.element,
        meshCreateCard(meshHead),
      ),
    }),
    playground: () =>
      playgroundView({
        listModels: () => listModelChoices(apiFetch),
        onModelsChange: (listener) =>
          void tab.subscribe(() => {
            if (tab.state.kind === 'ready' || tab.state.kind === 'idle') listener();
          }),
        stream,
        apiBase: resolveApi,
        describeError,
      }),
    dashboard: () =>
      dashboardView({
        mesh: () => mesh.state(),
        companionPeerIds: () => mesh.companionPeerIds(),
        onMeshChange: (listener) => mesh.onChange(listener),
        health: async () => fetchCompanionHealth(await resolveApi()),
        metrics,
      }),
    models: () => modelsView({ manager: models, servedModels: () => listModels(apiFetch), tab }),
  };
  return { factories, settings, models, metrics };
}

function safeLocalStorage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null; // storage blocked: settings live for this page only
  }
}
