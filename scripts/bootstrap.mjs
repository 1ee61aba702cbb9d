#!/usr/bin/env node
// Entry point of every npm script: makes a fresh clone ready (dependencies, the Node 22 that libp2p
// needs, Chromium for browser tests) with nothing but the system Node, then runs the task under Node 22.
// Plain JavaScript on purpose: it must run on Node 20 before anything is installed.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LAVAPIPE_DRIVER, LIBRARY_PACKAGES, cachedLibraries, describeLibrary, missingLibraries } from './native-libraries.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'node_modules', '.bin');
const node22 = join(root, 'node_modules', 'node', 'bin', 'node');
const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` };

function run(cmd, args, options = {}) {
  const result = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, env, ...options });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

function must(cmd, args, what) {
  const status = run(cmd, args);
  if (status !== 0) {
    console.error(`bootstrap: ${what} failed (exit ${status})`);
    process.exit(status);
  }
}

function mtime(path) {
  return existsSync(path) ? statSync(path).mtimeMs : 0;
}

/** Installs dependencies when node_modules is missing or older than the lockfile. */
function ensureDependencies() {
  const marker = join(root, 'node_modules', '.package-lock.json');
  const lock = join(root, 'package-lock.json');
  const fresh = existsSync(node22) && mtime(marker) >= Math.max(mtime(lock), mtime(join(root, 'package.json')));
  if (fresh) return;
  console.error('bootstrap: installing dependencies (first run takes a minute or two)…');
  // `npm install`, not `npm ci`: the lockfile pins versions, but platform packages of other
  // operating systems (node-llama-cpp's) may be absent from it, which `npm ci` refuses.
  must('npm', ['install', '--no-audit', '--no-fund'], 'npm install');
  if (!existsSync(node22)) {
    console.error('bootstrap: node_modules/node did not provide Node 22; libp2p needs it');
    process.exit(1);
  }
}

/**
 * System packages the tests need, from Debian: Chromium for browser tests (no browser download works
 * offline), gcc and the C library headers for llama.cpp's
 * reference quantizers (tools/quant-ref), iproute2 for the browser tests' network namespace, and the
 * Vulkan loader that Dawn for Node opens for the f16 WebGPU kernel tests (Debian's chromium does not
 * pull it in). Each is found by a file (`path`) or a library name in ldconfig's cache (`library`), and
 * installed with apt-get when missing.
 */
const SYSTEM_TOOLS = [
  { path: '/usr/bin/chromium', packages: ['chromium', 'fonts-dejavu-core'] },
  { path: '/usr/bin/gcc', packages: ['gcc'] },
  { path: '/usr/include/stdio.h', packages: ['libc6-dev'] },
  { path: '/bin/ip', packages: ['iproute2'] },
  { library: 'libvulkan.so.1', packages: [LIBRARY_PACKAGES['libvulkan.so.1']] },
];

function aptInstall(packages) {
  console.error(`bootstrap: installing ${packages.join(', ')} with apt-get…`);
  const asRoot = !process.getuid || process.getuid() === 0;
  const apt = (...args) =>
    run(asRoot ? 'apt-get' : 'sudo', asRoot ? args : ['apt-get', ...args], {
      env: { ...env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  apt('update');
  return apt('install', '-y', '--no-install-recommends', ...packages) === 0;
}

function ensureSystemTools() {
  const present = (t, cached) => (t.path ? existsSync(t.path) : cached.has(t.library));
  const before = cachedLibraries();
  const missing = SYSTEM_TOOLS.filter((t) => !present(t, before));
  if (missing.length === 0) return;
  const packages = missing.flatMap((t) => t.packages);
  const cached = aptInstall(packages) ? cachedLibraries() : new Set();
  if (missing.some((t) => !present(t, cached))) {
    console.error(`bootstrap: could not install ${packages.join(', ')} with apt-get; install them by hand`);
    process.exit(1);
  }
}

/**
 * A Vulkan driver whose WebGPU adapter has shader-f16, for the f16 WGSL kernel tests (Dawn for Node,
 * the `webgpu` package). Chromium on Linux offers no CPU adapter but SwiftShader (which lacks f16),
 * and Debian 12's lavapipe (Mesa 22.3) misses Vulkan features Dawn requires; bookworm-backports'
 * Mesa 25 has them. Its driver is unpacked under .cache/lavapipe (the system's Mesa is untouched)
 * with apt state kept there too; tests point VK_ICD_FILENAMES at the manifest written here.
 */
const LAVAPIPE_ICD = join(root, '.cache', 'lavapipe', 'lvp_icd.json');

function ensureLavapipe() {
  fetchLavapipe();
  if (existsSync(LAVAPIPE_ICD)) ensureLavapipeLibraries();
}

function fetchLavapipe() {
  if (existsSync(LAVAPIPE_ICD)) return;
  const osRelease = existsSync('/etc/os-release') ? readFileSync('/etc/os-release', 'utf8') : '';
  if (!/^VERSION_CODENAME=bookworm$/m.test(osRelease)) {
    console.error(
      'bootstrap: the f16 WebGPU kernel tests need Mesa 23+ lavapipe (Debian 12 backports); not on Debian 12, so not fetched: set LAVAPIPE_ICD to a lvp_icd.json by hand',
    );
    return;
  }
  const dir = dirname(LAVAPIPE_ICD);
  const aptDir = join(dir, 'apt');
  for (const d of ['lists/partial', 'archives/partial']) mkdirSync(join(aptDir, d), { recursive: true });
  writeFileSync(
    join(aptDir, 'sources.list'),
    'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-backports main\n',
  );
  const opts = [
    '-o',
    `Dir::Etc::sourcelist=${join(aptDir, 'sources.list')}`,
    '-o',
    'Dir::Etc::sourceparts=-',
    '-o',
    `Dir::State::Lists=${join(aptDir, 'lists')}`,
    '-o',
    `Dir::Cache=${aptDir}`,
    '-o',
    'Debug::NoLocking=1',
    '-o',
    'APT::Sandbox::User=root',
    '-q',
  ];
  console.error('bootstrap: fetching lavapipe (Mesa 25, bookworm-backports) into .cache/lavapipe…');
  const ok =
    run('apt-get', [...opts, 'update']) === 0 && run('apt-get', [...opts, 'download', 'mesa-vulkan-drivers/bookworm-backports'], { cwd: aptDir }) === 0;
  const deb = ok ? readdirSync(aptDir).find((f) => /^mesa-vulkan-drivers_.*\.deb$/.test(f)) : undefined;
  if (!deb || run('dpkg-deb', ['-x', join(aptDir, deb), join(dir, 'root')]) !== 0) {
    console.error('bootstrap: could not fetch lavapipe; the f16 WebGPU kernel tests will fail until it is there');
    return;
  }
  const lib = join(root, LAVAPIPE_DRIVER);
  writeFileSync(LAVAPIPE_ICD, `${JSON.stringify({ file_format_version: '1.0.0', ICD: { library_path: lib, api_version: '1.3.0' } }, null, 2)}\n`);
}

/** The driver is unpacked without its dependencies: installs, from Debian 12, the libraries it links that are missing. */
function ensureLavapipeLibraries() {
  const driver = join(root, LAVAPIPE_DRIVER);
  const missing = missingLibraries(driver);
  if (missing.length === 0) return;
  const packages = missing.map((name) => LIBRARY_PACKAGES[name]);
  if (packages.includes(undefined) || !aptInstall([...new Set(packages)]) || missingLibraries(driver).length > 0) {
    console.error(`bootstrap: lavapipe lacks ${missing.map(describeLibrary).join(', ')}; the f16 WebGPU kernel tests will fail until it is installed`);
  }
}

/**
 * Runs a TypeScript task file under Node 22 (type stripping, no build step) and exits with its
 * status. Ctrl-C reaches the whole process group; SIGTERM sent to this process alone is passed on,
 * and this process waits for the task to stop cleanly instead of dying first.
 */
function task(file, args) {
  const child = spawn(node22, [join(root, file), ...args], { stdio: 'inherit', cwd: root, env });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      if (signal !== 'SIGINT') child.kill(signal);
    });
  }
  child.on('exit', (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 1)));
}

const [command = 'start', ...rest] = process.argv.slice(2);
ensureDependencies();
switch (command) {
  case 'start':
    task('scripts/start.ts', rest);
    break;
  case 'build':
    task('scripts/build.ts', rest);
    break;
  case 'models':
    task('tools/models/main.ts', rest);
    break;
  case 'test':
    ensureSystemTools();
    ensureLavapipe();
    task('scripts/test.ts', rest);
    break;
  default:
    if (!existsSync(join(root, command))) {
      console.error(`bootstrap: unknown command ${command}`);
      process.exit(2);
    }
    // The mesh bench times a tab joining in Chromium.
    if (command === 'tools/bench/mesh.ts') ensureSystemTools();
    task(command, rest);
}
