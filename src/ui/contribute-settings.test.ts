import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, lendOptions, normaliseSettings, SettingsStore } from './contribute-settings.ts';

function memoryStorage() {
  const map = new Map<string, string>();
  return { getItem: (k: string) => map.get(k) ?? null, setItem: (k: string, v: string) => void map.set(k, v), map };
}

describe('contribute settings', () => {
  it('persists changes so a new store (a reload) reads them back', () => {
    const storage = memoryStorage();
    const seen: boolean[] = [];
    const store = new SettingsStore(storage);
    expect(store.get()).toEqual(DEFAULT_SETTINGS);
    store.subscribe((s) => seen.push(s.paused));
    store.update({ backend: 'cpu', memoryBudgetMb: 1024, paused: false });
    expect(seen).toEqual([false]);
    expect(new SettingsStore(storage).get()).toEqual({ backend: 'cpu', memoryBudgetMb: 1024, paused: false });
  });

  it('repairs damaged or out-of-range values', () => {
    expect(normaliseSettings({ backend: 'tpu', memoryBudgetMb: 1e9, paused: 'yes' })).toEqual({ ...DEFAULT_SETTINGS, memoryBudgetMb: 16384 });
    expect(normaliseSettings({ memoryBudgetMb: 300 }).memoryBudgetMb).toBe(256);
    const storage = memoryStorage();
    storage.setItem('mesh.contribute.v1', '{not json');
    expect(new SettingsStore(storage).get()).toEqual(DEFAULT_SETTINGS);
  });

  it('lends the budget in bytes and asks the stage for the backend chosen (CPU is the WASM backend)', () => {
    expect(lendOptions({ backend: 'cpu', memoryBudgetMb: 512, paused: false })).toEqual({ budgetBytes: 512 * 1024 * 1024, backend: 'wasm' });
    expect(lendOptions({ ...DEFAULT_SETTINGS, backend: 'webgpu' }).backend).toBe('webgpu');
    expect(lendOptions(DEFAULT_SETTINGS).backend).toBe('auto');
  });
});
