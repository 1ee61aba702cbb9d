// No promise dropped with `void` goes unhandled in the companion, the mesh or the page controllers
// (an unhandled rejection ends the companion's process); and the checker tells handled from not.
import { describe, expect, it } from 'vitest';
import { repositoryRoot } from '../layers/layers.ts';
import { droppedIn, droppedPromises } from './void-promises.ts';

describe('void promises', () => {
  it('every `void` call in src/mesh, src/companion, src/client and scripts is handled', () => {
    const found = droppedPromises(repositoryRoot, ['src/mesh', 'src/companion', 'src/client', 'scripts']);
    expect(found.map((d) => `${d.file}:${d.line} ${d.text}`)).toEqual([]);
  });

  it('names a dropped promise, and passes .catch, .then(ok, failed), .finally after a catch, a guarded IIFE and return void', () => {
    const source = [
      'const p = (): Promise<void> => Promise.resolve();',
      'void p();',
      'void p().catch(() => {});',
      'void p().then(() => {}, () => {});',
      'void p().catch(() => {}).finally(() => {});',
      'void p().finally(() => {});',
      'void (async () => { try { await p(); } catch {} })();',
      'void (async () => { await p(); })();',
      'void 0;',
      'function f(): void { return void p(); }',
      'setInterval(() => void p(), 1);',
    ].join('\n');
    expect(droppedIn('a.ts', source).map((d) => d.line)).toEqual([2, 6, 8, 11]);
  });
});
