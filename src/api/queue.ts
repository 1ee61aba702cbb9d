// Admission per model: at most `concurrency` generations run at once; the rest wait in a queue
// served round-robin between clients (one busy client cannot starve the others). A full queue
// answers 429 with Retry-After instead of piling up work that would time out anyway.
import { ApiError } from '../protocol/api-error.ts';

export interface QueueOptions {
  /** Generations of one model running at the same time. */
  concurrency: number;
  /** Requests allowed to wait per model; one more gets a 429. */
  maxQueued: number;
  /** Seconds suggested in Retry-After. */
  retryAfterSeconds: number;
}

export const DEFAULT_QUEUE: QueueOptions = { concurrency: 1, maxQueued: 64, retryAfterSeconds: 2 };

interface Waiter {
  grant: (release: () => void) => void;
}

export class FairQueue {
  private readonly options: QueueOptions;
  private running = 0;
  private queued = 0;
  /** Clients with waiters, in round-robin order, each with its own FIFO. */
  private readonly clients = new Map<string, Waiter[]>();

  constructor(options: QueueOptions) {
    this.options = options;
  }

  get stats(): { running: number; queued: number } {
    return { running: this.running, queued: this.queued };
  }

  /** Resolves with a release function once a slot is free; rejects with 429 when full or AbortError on abort. */
  acquire(client: string, signal: AbortSignal): Promise<() => void> {
    if (signal.aborted) return Promise.reject(new DOMException('the client aborted the request', 'AbortError'));
    if (this.running < this.options.concurrency && this.queued === 0) {
      this.running++;
      return Promise.resolve(this.releaser());
    }
    if (this.queued >= this.options.maxQueued) {
      const { retryAfterSeconds: s } = this.options;
      return Promise.reject(
        new ApiError('rate_limited', `the queue for this model is full (${this.options.maxQueued} waiting); retry after ${s} s`, {
          code: 'rate_limit_exceeded',
          retryAfter: s,
        }),
      );
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        grant: (release) => {
          signal.removeEventListener('abort', onAbort);
          resolve(release);
        },
      };
      const onAbort = () => {
        const list = this.clients.get(client);
        const at = list?.indexOf(waiter) ?? -1;
        if (at < 0) return;
        list!.splice(at, 1);
        if (list!.length === 0) this.clients.delete(client);
        this.queued--;
        reject(new DOMException('the client aborted the request', 'AbortError'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const list = this.clients.get(client);
      if (list) list.push(waiter);
      else this.clients.set(client, [waiter]);
      this.queued++;
    });
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.running--;
      this.next();
    };
  }

  private next(): void {
    while (this.running < this.options.concurrency && this.queued > 0) {
      const [client, list] = this.clients.entries().next().value!;
      const waiter = list.shift()!;
      // round robin: this client goes to the back of the line
      this.clients.delete(client);
      if (list.length) this.clients.set(client, list);
      this.queued--;
      this.running++;
      waiter.grant(this.releaser());
    }
  }
}

/** One FairQueue per model, made on first use. */
export class ModelQueues {
  private readonly options: QueueOptions;
  private readonly queues = new Map<string, FairQueue>();

  constructor(options: Partial<QueueOptions> = {}) {
    this.options = { ...DEFAULT_QUEUE, ...options };
  }

  for(model: string): FairQueue {
    let q = this.queues.get(model);
    if (!q) this.queues.set(model, (q = new FairQueue(this.options)));
    return q;
  }
}
