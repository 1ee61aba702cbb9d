import { describe, expect, it } from 'vitest';
import { isPrecached, precacheManifest } from './precache-manifest.ts';

const file = (path: string, text = path) => ({ path, bytes: new TextEncoder().encode(text) });

describe('precacheManifest', () => {
  const shell = [file('index.html', '<html>1'), file('assets/main-abc.js'), file('icons/icon-192.png'), file('manifest.webmanifest')];

  it('lists the shell with the start page as ./, sorted, without the worker or host files', () => {
    const m = precacheManifest([...shell, file('sw.js'), file('_headers'), file('assets/main-abc.js.map'), file('.DS_Store')]);
    expect(m.files).toEqual(['assets/main-abc.js', 'icons/icon-192.png', './', 'manifest.webmanifest']);
  });

  it('changes version when any cached file changes, and only then', () => {
    const base = precacheManifest(shell).version;
    expect(base).toMatch(/^[0-9a-f]{16}$/);
    expect(precacheManifest([...shell].reverse()).version).toBe(base);
    expect(precacheManifest([...shell, file('sw.js', 'other worker code')]).version).toBe(base);
    const edited = shell.map((f) => (f.path === 'index.html' ? file('index.html', '<html>2') : f));
    expect(precacheManifest(edited).version).not.toBe(base);
    const renamed = shell.map((f) => (f.path === 'assets/main-abc.js' ? file('assets/main-abd.js', 'assets/main-abc.js') : f));
    expect(precacheManifest(renamed).version).not.toBe(base);
  });

  it('excludes only what it must', () => {
    expect(isPrecached('sw.js')).toBe(false);
    expect(isPrecached('assets/sw.js')).toBe(true);
    expect(isPrecached('_headers')).toBe(false);
    expect(isPrecached('assets/x.js.map')).toBe(false);
    expect(isPrecached('icons/icon.svg')).toBe(true);
  });
});

describe('precacheManifest hashes', () => {
  it('gives each entry a content hash that changes with that file only', () => {
    const a = precacheManifest([file('index.html', '<html>1'), file('assets/main-abc.js'), file('icons/i.png')]);
    const b = precacheManifest([file('index.html', '<html>2'), file('assets/main-abc.js'), file('icons/i.png')]);
    expect(Object.keys(a.hashes).sort()).toEqual([...a.files].sort());
    expect(a.hashes['./']).toMatch(/^[0-9a-f]{32}$/);
    expect(b.hashes['./']).not.toBe(a.hashes['./']);
    expect(b.hashes['assets/main-abc.js']).toBe(a.hashes['assets/main-abc.js']);
    expect(b.hashes['icons/i.png']).toBe(a.hashes['icons/i.png']);
  });
});
