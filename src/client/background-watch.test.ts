import { describe, expect, it } from 'vitest';
import { BackgroundWatch, backgroundText } from './background-watch.ts';

/** A page whose clock, visibility and 1 s ticker the test drives. */
function fakePage(hidden = false) {
  let now = 0;
  let tick = () => {};
  let visibility = () => {};
  const page = {
    hidden,
    watch: undefined as unknown as BackgroundWatch,
    /** Advance the clock by `ms`, with ticks every `every` ms (throttled pages tick rarely). */
    run(ms: number, every: number) {
      for (let t = every; t <= ms; t += every) {
        now += every;
        tick();
      }
    },
    /** Advance the clock with no tick at all (a frozen tab). */
    freeze(ms: number) {
      now += ms;
    },
    setHidden(value: boolean) {
      page.hidden = value;
      visibility();
    },
  };
  page.watch = new BackgroundWatch({
    now: () => now,
    isHidden: () => page.hidden,
    onVisibilityChange: (l) => (visibility = l),
    every: (_, t) => (tick = t),
  });
  return page;
}

describe('BackgroundWatch', () => {
  it('says nothing for a tab that stayed in front, even when its ticks were late (a busy page is not throttling)', () => {
    const page = fakePage();
    page.run(60_000, 10_000);
    expect(page.watch.state()).toMatchObject({ hidden: false, hiddenMs: 0, throttled: false });
    expect(backgroundText(page.watch.state())).toBeUndefined();
  });

  it('reports throttling when a hidden tab’s timers came far apart, and keeps saying so once visible', () => {
    const page = fakePage();
    let changes = 0;
    page.watch.onChange(() => changes++);
    page.setHidden(true);
    expect(backgroundText(page.watch.state())).toMatch(/in the background: browsers may slow it down/);
    page.run(5 * 60_000, 1_000);
    expect(page.watch.state().throttled).toBe(false);
    page.run(3 * 60_000, 60_000); // Chrome's intensive throttling: once a minute
    expect(page.watch.state()).toMatchObject({ hidden: true, throttled: true, worstGapMs: 60_000 });
    page.setHidden(false);
    const state = page.watch.state();
    expect(state).toMatchObject({ hidden: false, hiddenMs: 8 * 60_000, throttled: true });
    expect(backgroundText(state)).toMatch(/held it back \(up to 60 s between its timers/);
    expect(changes).toBe(3); // hidden, throttled, visible again
  });

  it('counts a tick that never came while hidden (a frozen tab) when the tab comes back', () => {
    const page = fakePage(true);
    page.run(2_000, 1_000);
    expect(page.watch.state().worstGapMs).toBe(1_000);
    page.freeze(30_000);
    expect(page.watch.state().throttled).toBe(false);
    page.setHidden(false);
    expect(page.watch.state()).toMatchObject({ hidden: false, hiddenMs: 32_000, worstGapMs: 30_000, throttled: true });
  });
});
