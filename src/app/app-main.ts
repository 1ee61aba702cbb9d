// The full app (src/app/main.ts loads it unless the page is the widget's frame): draws the shell, probes what this tab can run, registers the service worker.
// The probe results are also published on window.meshApp for tests and for support questions.
import '../ui/styles.css';
import '../ui/forms.css';
import '../ui/home.css';
import '../ui/playground.css';
import '../ui/models.css';
import '../ui/dashboard.css';
import '../ui/mesh.css';
import type { CapabilityReport } from '../protocol/capabilities.ts';
import { AppShell } from '../ui/shell.ts';
import type { ServiceWorkerStatus } from '../ui/status-rows.ts';
import { UpdatePrompt } from '../ui/update-prompt.ts';
import { createApiFetch } from '../client/api-fetch.ts';
import { probeCapabilities } from '../client/capabilities.ts';
import { createMeshJoin, type MeshJoin } from '../client/mesh-join.ts';
import { createMeshHead, type MeshHeadControl } from '../client/mesh-create.ts';
import { companionApiResolver, saveCompanionApi, type CompanionApi } from '../client/companion-api.ts';
import { registerShellWorker, type ShellWorker } from '../client/service-worker.ts';
import { serveApiToWorker } from '../client/api-bridge.ts';
import { thisPageProviders } from '../client/page-api.ts';
import { serveMeshFromPage } from '../client/mesh-page-provider.ts';
import { TabEngine } from '../client/tab-engine.ts';
import { createViews } from './views.ts';

export interface MeshAppHandle {
  /** Resolves once every probe has answered (the WebGPU adapter request is the slow one). */
  capabilities: Promise<CapabilityReport>;
  serviceWorker(): ServiceWorkerStatus;
  applyUpdate(): void;
  /** Looks for a new version of the app now (the tab also looks hourly and when shown again). */
  checkForUpdate(): Promise<void>;
  /** fetch('/v1/…') that works whether or not the service worker controls this page yet. */
  apiFetch(input: string | URL, init?: RequestInit): Promise<Response>;
  /** Points this origin's API (page and service worker) at a companion; null = back to the default. */
  setCompanionApi(setting: CompanionApi | null): Promise<void>;
  /** Mesh membership from an invite link (#join=…); auto=1 joins at load. */
  mesh: MeshJoin;
  /** The model this tab runs in its inference worker ("Use in this tab" in Models). */
  tabEngine: TabEngine;
  /** The private mesh this tab created and heads (Home's Create, or #create=private&…&auto=1). */
  meshHead: MeshHeadControl;
}

declare global {
  interface Window {
    meshApp: MeshAppHandle;
  }
}

const root = document.getElementById('app');
if (!root) throw new Error('index.html has no #app element to mount the shell in');

const mesh = createMeshJoin();
// A tab in a mesh sends /v1 to the mesh's head; otherwise to the companion (or its own API).
const apiFetch = createApiFetch({ mesh: (request) => mesh.meshFetch(request), inMesh: () => mesh.state().status === 'joined' });
const capabilities = probeCapabilities();
// This page's providers answer /v1 here (apiFetch) and, through the service worker, for every page of the origin.
const providers = thisPageProviders();
const tabEngine = new TabEngine({ providers, capabilities: () => capabilities, store: safeLocalStorage() });
if (navigator.serviceWorker) {
  const bridge = serveApiToWorker(providers, navigator.serviceWorker as unknown as Parameters<typeof serveApiToWorker>[1]);
  providers.onChange(() => bridge.announce());
  addEventListener('pagehide', () => bridge.withdraw());
  addEventListener('pageshow', (event: PageTransitionEvent) => {
    if (event.persisted) void bridge.announce();
  });
  // While in a mesh, the service worker sends /v1 for the head's models (from any page of the origin) here.
  serveMeshFromPage(mesh, providers);
}
// A tab that creates a mesh heads it: its /v1 is a provider of this page, like the mesh's.
const meshHead = createMeshHead({ providers });
const views = createViews(apiFetch, mesh, tabEngine, meshHead);
void tabEngine.restore(); // the model chosen with "Use in this tab" before a reload
const shell = new AppShell(root, views.factories);
shell.followMesh(mesh);
const updatePrompt = new UpdatePrompt(() => window.meshApp.applyUpdate());
document.body.append(updatePrompt.element);
const worker: ShellWorker = registerShellWorker((status) => {
  shell.status.setServiceWorker(status);
  updatePrompt.update(status);
  document.documentElement.dataset.serviceWorker = status.state;
});
shell.status.setServiceWorker(worker.status());
updatePrompt.update(worker.status());

void capabilities.then((report) => {
  shell.status.setReport(report);
  document.documentElement.dataset.capabilities = 'ready';
});

window.meshApp = {
  capabilities,
  serviceWorker: () => worker.status(),
  applyUpdate: () => worker.applyUpdate(),
  checkForUpdate: () => worker.checkForUpdate(),
  apiFetch,
  setCompanionApi: saveCompanionApi,
  mesh,
  tabEngine,
  meshHead,
};

// `?serve-tab=<model>[,<model>]`: this tab serves those models to the companion's API (tab attach).
// Loaded only then: the engine is a large chunk most visits never need.
if (new URL(location.href).searchParams.has('serve-tab')) {
  import('../client/tab-serve.ts')
    .then(({ serveTabFromLink }) => serveTabFromLink(location.href, companionApiResolver(location.origin)))
    .catch((error: unknown) => console.error('serve-tab:', error));
}

function safeLocalStorage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null; // storage blocked: the choice lasts for this page only
  }
}
