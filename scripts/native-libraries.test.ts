// Every native piece the tests load finds its system libraries: a fresh machine lacking one fails
// here with the Debian package to install, not deep inside a WebGPU or llama.cpp test.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NATIVE_LIBRARIES, cachedLibraries, describeLibrary, missingLibraries, notFound } from './native-libraries.mjs';

const root = join(import.meta.dirname, '..');

describe('ldd output', () => {
  it('names the libraries that are not found', () => {
    const output = [
      '\tlinux-vdso.so.1 (0x00007ffc3b5f2000)',
      '\tlibLLVM-15.so.1 => not found',
      '\tlibz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x00007f0a1c000000)',
      '\tlibxcb-dri3.so.0 => not found',
      '\t/lib64/ld-linux-x86-64.so.2 (0x00007f0a1c200000)',
    ].join('\n');
    expect(notFound(output)).toEqual(['libLLVM-15.so.1', 'libxcb-dri3.so.0']);
    expect(notFound('\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x1)\n')).toEqual([]);
  });

  it('says which Debian package has a missing library', () => {
    expect(describeLibrary('libvulkan.so.1')).toBe('libvulkan.so.1 (Debian package libvulkan1)');
    expect(describeLibrary('libLLVM-15.so.1')).toBe('libLLVM-15.so.1 (Debian package libllvm15)');
    expect(describeLibrary('libnothing.so.9')).toMatch(/package unknown/);
  });

  it('counts a library opened at run time as missing when the loader cannot find it', () => {
    const dawn = join(root, 'node_modules/webgpu/dist/linux-x64/dawn.node');
    expect(missingLibraries(dawn, ['libvulkan.so.1'], new Set())).toEqual(['libvulkan.so.1']);
  });
});

describe.skipIf(process.platform !== 'linux' || process.arch !== 'x64')('native libraries the tests load', () => {
  const cached = cachedLibraries();
  for (const { file, dlopens } of NATIVE_LIBRARIES) {
    it(`${file} finds every library it loads`, () => {
      const path = join(root, file);
      expect(existsSync(path), `${file} is not there: run "npm test" (scripts/bootstrap.mjs installs it)`).toBe(true);
      const missing = missingLibraries(path, dlopens, cached).map(describeLibrary);
      expect(missing, `${file} cannot load ${missing.join(', ')}: "npm test" installs these with apt-get (scripts/bootstrap.mjs)`).toEqual([]);
    });
  }
});
