import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { appBuildState } from './app-build.ts';

const root = mkdtempSync(join(tmpdir(), 'app-build-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function touch(path: string, secondsAgo: number): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, 'x');
  const t = new Date(Date.now() - secondsAgo * 1000);
  utimesSync(path, t, t);
}

describe('appBuildState', () => {
  it('is missing without dist/index.html or dist/sw.js, fresh after a build, stale when a source changes', () => {
    const dist = join(root, 'dist');
    touch(join(root, 'index.html'), 100);
    touch(join(root, 'src', 'ui', 'app.ts'), 100);
    expect(appBuildState(root, dist)).toBe('missing');

    touch(join(dist, 'index.html'), 50);
    expect(appBuildState(root, dist)).toBe('missing'); // a build whose service worker failed
    touch(join(dist, 'sw.js'), 50);
    expect(appBuildState(root, dist)).toBe('fresh');

    // Tests and the companion's own code are not in the bundle.
    touch(join(root, 'src', 'ui', 'app.test.ts'), 10);
    touch(join(root, 'src', 'companion', 'relay.ts'), 10);
    expect(appBuildState(root, dist)).toBe('fresh');

    touch(join(root, 'src', 'ui', 'app.ts'), 10);
    expect(appBuildState(root, dist)).toBe('stale');
    touch(join(dist, 'index.html'), 0);
    touch(join(root, 'workers', 'sw.ts'), -5);
    expect(appBuildState(root, dist)).toBe('stale');
  });
});
