import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { scheduleUpdateChecks, type VisibilitySource } from './update-check.ts';

class FakeDocument implements VisibilitySource {
  visibilityState: DocumentVisibilityState = 'visible';
  readonly #listeners = new Set<() => void>();
  addEventListener(_: 'visibilitychange', l: () => void) {
    this.#listeners.add(l);
  }
  removeEventListener(_: 'visibilitychange', l: () => void) {
    this.#listeners.delete(l);
  }
  show(state: DocumentVisibilityState) {
    this.visibilityState = state;
    for (const l of this.#listeners) l();
  }
}

const MIN = 60_000;

describe('scheduleUpdateChecks', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('checks every interval while the tab is visible, and skips hidden intervals', () => {
    const check = vi.fn(async () => {});
    const doc = new FakeDocument();
    const checks = scheduleUpdateChecks(check, doc, { everyMs: 60 * MIN, minGapMs: 10 * MIN });
    vi.advanceTimersByTime(60 * MIN - 1);
    expect(check).toHaveBeenCalledTimes(0);
    vi.advanceTimersByTime(1);
    expect(check).toHaveBeenCalledTimes(1);
    doc.visibilityState = 'hidden';
    vi.advanceTimersByTime(3 * 60 * MIN);
    expect(check).toHaveBeenCalledTimes(1);
    checks.stop();
  });

  it('checks when the tab becomes visible, at most once per gap', () => {
    const check = vi.fn(async () => {});
    const doc = new FakeDocument();
    const checks = scheduleUpdateChecks(check, doc, { everyMs: 60 * MIN, minGapMs: 10 * MIN });
    doc.show('hidden');
    doc.show('visible');
    expect(check).toHaveBeenCalledTimes(0); // registering just checked
    vi.advanceTimersByTime(10 * MIN);
    doc.show('hidden');
    doc.show('visible');
    doc.show('hidden');
    doc.show('visible');
    expect(check).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(10 * MIN);
    doc.show('visible');
    expect(check).toHaveBeenCalledTimes(2);
    checks.stop();
    vi.advanceTimersByTime(10 * 60 * MIN);
    doc.show('visible');
    expect(check).toHaveBeenCalledTimes(2);
  });

  it('checkNow ignores the bounds and survives a failing check (offline)', async () => {
    const check = vi.fn(async () => {
      throw new TypeError('Failed to fetch');
    });
    const checks = scheduleUpdateChecks(check, new FakeDocument());
    await checks.checkNow();
    await checks.checkNow();
    expect(check).toHaveBeenCalledTimes(2);
    checks.stop();
  });
});
