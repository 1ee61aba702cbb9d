import { describe, expect, it } from 'vitest';
import { hashFor, VIEWS, viewFromHash } from './views.ts';

describe('view routes', () => {
  it('maps hashes to views and unknown ones to home', () => {
    expect(viewFromHash('')).toBe('home');
    expect(viewFromHash('#/')).toBe('home');
    expect(viewFromHash('#/playground')).toBe('playground');
    expect(viewFromHash('#dashboard')).toBe('dashboard');
    expect(viewFromHash('#/models/qwen?x=1')).toBe('models');
    expect(viewFromHash('#/nope')).toBe('home');
  });

  it('round-trips every view through its hash', () => {
    for (const view of VIEWS) expect(viewFromHash(hashFor(view.id))).toBe(view.id);
  });
});
