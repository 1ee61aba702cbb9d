// A Node process with the guard survives an unhandled rejection and an uncaught exception, says so,
// and goes on; without it Node ends the process (the control case shows the test can fail).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const guard = fileURLToPath(new URL('./process-guard.ts', import.meta.url));

function run(guarded: boolean) {
  const script = [
    `const { guardProcess } = await import(${JSON.stringify(guard)});`,
    guarded ? 'guardProcess((line) => console.error(line));' : '',
    "Promise.reject(new Error('a peer sent junk'));",
    "setTimeout(() => { throw new Error('a callback threw'); }, 10);",
    "setTimeout(() => console.log('still serving'), 50);",
  ].join('\n');
  return spawnSync(process.execPath, ['--experimental-strip-types', '--no-warnings', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 20_000,
  });
}

describe('guardProcess', () => {
  it('logs an unhandled rejection and an uncaught exception and keeps the process running', () => {
    const r = run(true);
    expect(r.stdout).toContain('still serving');
    expect(r.stderr).toMatch(/unhandled rejection .*still serving: Error: a peer sent junk/);
    expect(r.stderr).toMatch(/uncaught exception .*still serving: Error: a callback threw/);
    expect(r.status).toBe(0);
  });

  it('without it, the same process dies', () => {
    const r = run(false);
    expect(r.stdout).not.toContain('still serving');
    expect(r.status).not.toBe(0);
  });
});
