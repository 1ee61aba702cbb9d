// What handleApiRequest runs with: the model provider and the server's limits and queues.
// Long-lived (the queues live here), made once per server or service worker.
import type { ModelProvider } from '../provider/provider.ts';
import { ModelQueues, type QueueOptions } from './queue.ts';
import { DEFAULT_MAX_BODY_BYTES } from './request-body.ts';

export interface ApiOptions {
  provider: ModelProvider;
  /** Largest accepted request body in bytes (413 above). Default 4 MiB. */
  maxBodyBytes?: number;
  queue?: Partial<QueueOptions>;
  /** Said in the 503 when no model is served at all: what the user can do here (e.g. start the companion). */
  noModelHint?: string;
}

export interface ApiContext {
  provider: ModelProvider;
  maxBodyBytes: number;
  queues: ModelQueues;
  noModelHint: string;
}

export function createApiContext(options: ApiOptions): ApiContext {
  return {
    provider: options.provider,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    queues: new ModelQueues(options.queue),
    noModelHint: options.noModelHint ?? 'open the app and load a model, or start the companion with one, then retry',
  };
}

/** Per-request facts the transport knows and the Request does not. */
export interface RequestInfo {
  /** Who is asking (remote address, page id): the queue is fair between these. */
  clientKey?: string;
}
