// Registers the shell's service worker (dist/sw.js) and follows its life cycle for the status panel
// and the update prompt: a new version waits until applyUpdate() asks it to take over. An open tab
// keeps looking for new versions (update-check.ts), so it learns of one without a reload.
import { SW_PROTOCOL_VERSION, type ShellVersionReply } from '../protocol/service-worker-messages.ts';
import { scheduleUpdateChecks, type UpdateChecks } from './update-check.ts';

export interface ServiceWorkerStatus {
  state: 'unsupported' | 'dev-server' | 'registering' | 'installing' | 'active' | 'error';
  /** This page load is served through the worker (it will open offline). */
  controlled: boolean;
  /** A newer shell is installed and waits for the page to ask for it. */
  updateWaiting: boolean;
  version: string;
  error: string;
}

export interface ShellWorker {
  status(): ServiceWorkerStatus;
  /** Lets a waiting new version take over, then reloads into it. No-op when nothing waits. */
  applyUpdate(): void;
  /** Asks the browser for a new version now (it also asks hourly and when the tab is shown again). */
  checkForUpdate(): Promise<void>;
}

export function registerShellWorker(onChange: (status: ServiceWorkerStatus) => void): ShellWorker {
  let status: ServiceWorkerStatus = { state: 'registering', controlled: false, updateWaiting: false, version: '', error: '' };
  let registration: ServiceWorkerRegistration | undefined;
  let checks: UpdateChecks | undefined;
  const set = (next: Partial<ServiceWorkerStatus>) => {
    status = { ...status, ...next };
    onChange(status);
  };

  if (!('serviceWorker' in navigator)) {
    set({ state: 'unsupported' });
  } else if (import.meta.env.DEV) {
    set({ state: 'dev-server' }); // the worker and its precache list only exist in the production build
  } else {
    const container = navigator.serviceWorker;
    const refresh = () => {
      if (!registration) return;
      const state = registration.active ? 'active' : 'installing';
      set({ state, controlled: container.controller !== null, updateWaiting: Boolean(registration.waiting && registration.active) });
      if (state === 'active' && !status.version)
        void askVersion(registration.active!)
          .then((version) => version && set({ version }))
          .catch(() => {});
    };
    const adopt = (reg: ServiceWorkerRegistration) => {
      if (registration === reg) return refresh();
      registration = reg;
      checks ??= scheduleUpdateChecks(() => registration!.update(), document);
      reg.addEventListener('updatefound', () => {
        reg.installing?.addEventListener('statechange', refresh);
        refresh();
      });
      for (const worker of [reg.installing, reg.waiting, reg.active]) worker?.addEventListener('statechange', refresh);
      refresh();
    };
    container.addEventListener('controllerchange', refresh);
    const scope = import.meta.env.BASE_URL;
    // register() waits for an update check of sw.js, which hangs or fails offline: show the worker
    // that already serves this page at once, and treat a failed check as "still the cached version".
    void container
      .getRegistration(scope)
      .then((reg) => reg && adopt(reg))
      .catch(() => {});
    container
      .register(`${scope}sw.js`, { scope, updateViaCache: 'none' })
      .then(adopt)
      .catch((error: unknown) => {
        if (!registration?.active) set({ state: 'error', error: error instanceof Error ? error.message : String(error) });
      });
  }

  return {
    status: () => status,
    applyUpdate() {
      const waiting = registration?.waiting;
      if (!waiting) return;
      navigator.serviceWorker.addEventListener('controllerchange', () => location.reload(), { once: true });
      waiting.postMessage({ v: SW_PROTOCOL_VERSION, type: 'skip-waiting' });
    },
    checkForUpdate: () => checks?.checkNow() ?? Promise.resolve(),
  };
}

function askVersion(worker: ServiceWorker): Promise<string> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    const timer = setTimeout(() => resolve(''), 2000);
    channel.port1.onmessage = (event: MessageEvent<ShellVersionReply>) => {
      clearTimeout(timer);
      resolve(event.data?.type === 'shell-version' ? event.data.version : '');
    };
    worker.postMessage({ v: SW_PROTOCOL_VERSION, type: 'shell-version' }, [channel.port2]);
  });
}
