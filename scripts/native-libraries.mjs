// The system libraries that the native pieces the tests load link or open, and the Debian 12 package
// that has each: bootstrap installs what is missing, native-libraries.test.ts fails naming it.
// Plain JavaScript: bootstrap.mjs imports it on Node 20 before anything is installed.
import { spawnSync } from 'node:child_process';

/** Where bootstrap unpacks Mesa 25's lavapipe (bookworm-backports), without its dependencies. */
export const LAVAPIPE_DRIVER = '.cache/lavapipe/root/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so';

/**
 * Native files the tests load, relative to the repository root. `dlopens`: libraries the file opens
 * at run time, which ldd cannot see (Dawn opens the Vulkan loader, which Debian's chromium does not
 * pull in: "Couldn't load Vulkan: libvulkan.so.1" on a fresh machine).
 */
export const NATIVE_LIBRARIES = [
  { file: LAVAPIPE_DRIVER, dlopens: [] },
  { file: 'node_modules/webgpu/dist/linux-x64/dawn.node', dlopens: ['libvulkan.so.1'] },
  { file: 'node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/llama-addon.node', dlopens: [] },
  { file: 'node_modules/@node-datachannel/linux-x64-gnu/node_datachannel.node', dlopens: [] },
];

/**
 * Debian 12 packages by library name: the Vulkan loader and what lavapipe links beyond a minimal
 * Debian (the names in its .deb's Depends; Mesa 25 in backports is built against bookworm's LLVM 15).
 */
export const LIBRARY_PACKAGES = {
  'libvulkan.so.1': 'libvulkan1',
  'libLLVM-15.so.1': 'libllvm15',
  'libdrm.so.2': 'libdrm2',
  'libexpat.so.1': 'libexpat1',
  'libwayland-client.so.0': 'libwayland-client0',
  'libX11-xcb.so.1': 'libx11-xcb1',
  'libxcb.so.1': 'libxcb1',
  'libxcb-dri3.so.0': 'libxcb-dri3-0',
  'libxcb-present.so.0': 'libxcb-present0',
  'libxcb-randr.so.0': 'libxcb-randr0',
  'libxcb-shm.so.0': 'libxcb-shm0',
  'libxcb-sync.so.1': 'libxcb-sync1',
  'libxcb-xfixes.so.0': 'libxcb-xfixes0',
  'libxshmfence.so.1': 'libxshmfence1',
  'libzstd.so.1': 'libzstd1',
  'libz.so.1': 'zlib1g',
  'libstdc++.so.6': 'libstdc++6',
  'libgcc_s.so.1': 'libgcc-s1',
};

/** The libraries ldd reports as "not found" in its output. */
export function notFound(lddOutput) {
  return [...lddOutput.matchAll(/^\s*(\S+) => not found\s*$/gm)].map((m) => m[1]);
}

/** Library names the dynamic loader can find (ldconfig's cache). */
export function cachedLibraries() {
  const r = spawnSync('/sbin/ldconfig', ['-p'], { encoding: 'utf8' });
  return new Set([...(r.stdout ?? '').matchAll(/^\s*(\S+) \(/gm)].map((m) => m[1]));
}

/** What `file` links or opens that this machine lacks (empty when all is there). Throws when ldd cannot read it. */
export function missingLibraries(file, dlopens = [], cached = cachedLibraries()) {
  const r = spawnSync('ldd', [file], { encoding: 'utf8' });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`ldd ${file} failed: ${(r.stderr || r.stdout).trim()}`);
  return [...notFound(r.stdout), ...dlopens.filter((name) => !cached.has(name))];
}

/** "libvulkan.so.1 (Debian package libvulkan1)" for a message. */
export function describeLibrary(name) {
  const pkg = LIBRARY_PACKAGES[name];
  return pkg ? `${name} (Debian package ${pkg})` : `${name} (package unknown: look it up with apt-file search ${name})`;
}
