// The page's side of the service worker's /v1 bridge (workers/service-worker/api-bridge.ts): tells
// the worker which models this page serves, answers the requests it hands over with the page's
// providers (handleApiRequest), streams the body back on the request's port, and stops generating
// when the worker says the client went away.
import {
  isApiAbortMessage,
  isApiRequestMessage,
  isApiServerAck,
  isApiServerQuery,
  SW_PROTOCOL_VERSION,
  type ApiReplyMessage,
  type ApiRequestMessage,
  type ApiServerMessage,
} from '../protocol/service-worker-messages.ts';
import type { LocalApi } from './page-api.ts';

/** The part of navigator.serviceWorker the bridge uses (tests pass a fake). */
export interface WorkerContainer {
  readonly ready: Promise<{ active: { postMessage(message: unknown, transfer: Transferable[]): void } | null }>;
  readonly controller: { postMessage(message: unknown): void } | null;
  addEventListener(type: 'message' | 'controllerchange', listener: (event: MessageEvent) => void): void;
  removeEventListener(type: 'message' | 'controllerchange', listener: (event: MessageEvent) => void): void;
}

export interface ApiBridgePage {
  /** Tells the worker again what this page serves (after a change of providers, or back from the back-forward cache). */
  announce(): Promise<void>;
  /**
   * Withdraws this page at once (on pagehide): during a reload the old page still exists for a moment,
   * and a worker that sent it a request would wait for an answer that never comes.
   */
  withdraw(): void;
  stop(): void;
}

/** Serves `local` to the service worker for as long as the page lives (or until stop()). */
export function serveApiToWorker(local: LocalApi, container: WorkerContainer): ApiBridgePage {
  // The worker keeps its last list: one that could not be sent is sent at the next query.
  const announceFailed = () => {};
  /** Resolves once the worker has the list (so a request made next finds it), or after a second. */
  const announce = async () => {
    const message: ApiServerMessage = { v: SW_PROTOCOL_VERSION, type: 'api-server', models: await local.served() };
    // No worker yet (still registering, or refused: a page behind an untrusted certificate has
    // none): the page serves only itself, and whoever waits for this goes on after the second.
    const ready = await Promise.race([container.ready, new Promise<undefined>((resolve) => setTimeout(resolve, 1000))]);
    const active = ready?.active;
    if (!active) return;
    const channel = new MessageChannel();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000); // a worker of an older build does not acknowledge
      channel.port1.onmessage = (event) => {
        if (isApiServerAck(event.data)) {
          clearTimeout(timer);
          resolve();
        }
      };
      active.postMessage(message, [channel.port2]);
    });
    channel.port1.close();
  };
  const onMessage = (event: MessageEvent) => {
    if (isApiServerQuery(event.data)) void announce().catch(announceFailed);
    else if (isApiRequestMessage(event.data) && event.ports[0]) void answer(local, event.data, event.ports[0]).catch(() => {}); // it answers its errors on the port
  };
  const onControllerChange = () => void announce().catch(announceFailed); // a new worker version has an empty table
  container.addEventListener('message', onMessage);
  container.addEventListener('controllerchange', onControllerChange);
  void announce().catch(announceFailed);
  const withdraw = () => container.controller?.postMessage({ v: SW_PROTOCOL_VERSION, type: 'api-server', models: [] } satisfies ApiServerMessage);
  return {
    announce,
    withdraw,
    stop() {
      container.removeEventListener('message', onMessage);
      container.removeEventListener('controllerchange', onControllerChange);
      void container.ready
        .then((r) => r.active?.postMessage({ v: SW_PROTOCOL_VERSION, type: 'api-server', models: [] } satisfies ApiServerMessage, []))
        .catch(() => {});
    },
  };
}

/** Runs one bridged request and streams its answer back; exported for tests. */
export async function answer(local: LocalApi, m: ApiRequestMessage, port: MessagePort): Promise<void> {
  const controller = new AbortController();
  const send = (reply: ApiReplyMessage, transfer: Transferable[] = []) => port.postMessage(reply, transfer);
  port.onmessage = (event) => {
    if (isApiAbortMessage(event.data)) controller.abort(new DOMException('the client went away', 'AbortError'));
  };
  send({ v: SW_PROTOCOL_VERSION, type: 'api-accepted' });
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  controller.signal.addEventListener(
    'abort',
    () => {
      void reader?.cancel().catch(() => {});
      port.close();
    },
    { once: true },
  );
  try {
    const request = new Request(m.url, { method: m.method, headers: m.headers, body: m.body, signal: controller.signal });
    const response = await local.serve(request);
    const headers: [string, string][] = [];
    response.headers.forEach((value, name) => headers.push([name, value]));
    send({ v: SW_PROTOCOL_VERSION, type: 'api-head', status: response.status, statusText: response.statusText, headers });
    if (response.body) {
      reader = response.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        // A fresh buffer per chunk, moved rather than copied.
        const chunk = value.byteOffset === 0 && value.byteLength === value.buffer.byteLength ? value : value.slice();
        send({ v: SW_PROTOCOL_VERSION, type: 'api-chunk', chunk }, [chunk.buffer]);
      }
    }
    send({ v: SW_PROTOCOL_VERSION, type: 'api-end' });
  } catch (error) {
    if (!controller.signal.aborted) send({ v: SW_PROTOCOL_VERSION, type: 'api-error', message: (error as Error)?.message ?? String(error) });
  } finally {
    if (!controller.signal.aborted) port.close();
  }
}
