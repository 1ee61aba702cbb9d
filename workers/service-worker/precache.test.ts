import { describe, expect, it } from 'vitest';
import { planInstall } from './precache.ts';

const u = (p: string) => `https://mesh.example/${p}`;

describe('planInstall', () => {
  const wanted = { [u('')]: 'h-index-2', [u('assets/a.js')]: 'h-a', [u('icons/i.png')]: 'h-i', [u('assets/new.js')]: 'h-new' };

  it('copies the files an older cache holds with the same hash and fetches only the rest', () => {
    const older = new Map([['mesh-shell-1', { [u('')]: 'h-index-1', [u('assets/a.js')]: 'h-a', [u('icons/i.png')]: 'h-i', [u('assets/gone.js')]: 'h-g' }]]);
    const plan = planInstall(wanted, older);
    expect([...plan.copy]).toEqual([
      [u('assets/a.js'), 'mesh-shell-1'],
      [u('icons/i.png'), 'mesh-shell-1'],
    ]);
    expect(plan.fetch).toEqual([u(''), u('assets/new.js')]);
  });

  it('matches url and hash together: the same content under another url is fetched', () => {
    const plan = planInstall({ [u('assets/b.js')]: 'h-a' }, new Map([['old', { [u('assets/a.js')]: 'h-a' }]]));
    expect(plan.fetch).toEqual([u('assets/b.js')]);
  });

  it('fetches everything on a first install or after a version without hashes', () => {
    expect(planInstall(wanted, new Map()).fetch).toEqual(Object.keys(wanted));
  });
});
