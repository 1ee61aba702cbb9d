// What this tab may lend to the mesh, as the person set it on Home: kept in localStorage so a reload
// keeps the choice. Values read back are checked, since storage can hold anything.
import type { JoinOptions } from '../client/mesh-join.ts';

export type ContributeBackend = 'auto' | 'webgpu' | 'cpu';

export interface ContributeSettings {
  backend: ContributeBackend;
  /** Most memory the engine may take for weights and KV cache, in MB. */
  memoryBudgetMb: number;
  /** The person's switch: true while they have paused lending. */
  paused: boolean;
}

export const DEFAULT_SETTINGS: ContributeSettings = { backend: 'auto', memoryBudgetMb: 2048, paused: true };
export const MEMORY_BUDGET_RANGE = { min: 256, max: 16384, step: 256 } as const;

const KEY = 'mesh.contribute.v1';

/** What a join lends, from the settings: the budget, and the backend the tab's stage is asked to run on. */
export function lendOptions(s: ContributeSettings): JoinOptions {
  return { budgetBytes: s.memoryBudgetMb * 1024 * 1024, backend: s.backend === 'cpu' ? 'wasm' : s.backend };
}

export function normaliseSettings(value: unknown): ContributeSettings {
  const v = (typeof value === 'object' && value !== null ? value : {}) as Partial<Record<keyof ContributeSettings, unknown>>;
  const backend = v.backend === 'webgpu' || v.backend === 'cpu' || v.backend === 'auto' ? v.backend : DEFAULT_SETTINGS.backend;
  const raw = typeof v.memoryBudgetMb === 'number' && Number.isFinite(v.memoryBudgetMb) ? v.memoryBudgetMb : DEFAULT_SETTINGS.memoryBudgetMb;
  const { min, max, step } = MEMORY_BUDGET_RANGE;
  const memoryBudgetMb = Math.min(max, Math.max(min, Math.round(raw / step) * step));
  const paused = typeof v.paused === 'boolean' ? v.paused : DEFAULT_SETTINGS.paused;
  return { backend, memoryBudgetMb, paused };
}

/** A tiny observable store over a Storage (localStorage in the app, a fake in tests). */
export class SettingsStore {
  readonly #storage: Pick<Storage, 'getItem' | 'setItem'> | null;
  readonly #listeners = new Set<(s: ContributeSettings) => void>();
  #value: ContributeSettings;

  constructor(storage: Pick<Storage, 'getItem' | 'setItem'> | null) {
    this.#storage = storage;
    let stored: unknown = null;
    try {
      stored = JSON.parse(storage?.getItem(KEY) ?? 'null');
    } catch {
      // damaged: defaults
    }
    this.#value = normaliseSettings(stored);
  }

  get(): ContributeSettings {
    return this.#value;
  }

  update(change: Partial<ContributeSettings>): ContributeSettings {
    this.#value = normaliseSettings({ ...this.#value, ...change });
    try {
      this.#storage?.setItem(KEY, JSON.stringify(this.#value));
    } catch {
      // private mode or full: the setting still applies to this page
    }
    for (const listener of this.#listeners) listener(this.#value);
    return this.#value;
  }

  subscribe(listener: (s: ContributeSettings) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
