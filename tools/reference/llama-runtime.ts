// Loads node-llama-cpp's prebuilt CPU llama.cpp, and models into it, without ever downloading or
// compiling anything (no network here; a fresh clone must not start a 10-minute cmake build).
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { registerHooks } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cacheDir } from '../llama-source.ts';
import { getLlama, LlamaLogLevel, type Llama, type LlamaModel } from 'node-llama-cpp';
import { ReferenceHarnessError } from './errors.ts';

/** The installed node-llama-cpp version: it pins the llama.cpp build, so it keys the result cache. */
export function nodeLlamaCppVersion(): string {
  const path = fileURLToPath(new URL('../package.json', import.meta.resolve('node-llama-cpp'))); // dist/index.js → package.json
  return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
}

/**
 * llama.cpp's CPU variants that leave the reference: the Sapphire Rapids build is compiled with
 * AVX512-FP16, and with it ggml accumulates F16 dot products in half precision
 * (ggml-cpu/simd-mappings.h, `_mm512_fmadd_ph`), 1e-2 off in log-prob on our F16 test models from
 * every other build (the other x86 variants, ARM, wllama's WASM), which all accumulate in f32. The
 * reference must be one answer on every machine, so on such a CPU it runs the next best variant.
 */
export const VARIANTS_LEFT_OUT = ['sapphirerapids'];

/** Where the reference's copy of the prebuilt package lives: the same files less VARIANTS_LEFT_OUT. */
const portablePackage = join(cacheDir, 'llama-reference', 'linux-x64');

/**
 * Makes node-llama-cpp load its prebuilt binary from a copy of `@node-llama-cpp/linux-x64` whose
 * bins lack the left-out CPU variants (llama.cpp picks the best variant in that folder). The copy
 * holds links to the installed files, so it costs nothing and follows a reinstall.
 */
function usePortableVariants(): void {
  const packageName = '@node-llama-cpp/linux-x64';
  let source: string;
  try {
    source = join(dirname(fileURLToPath(import.meta.resolve(packageName))), '..');
  } catch {
    return; // another platform: its own package, no variant to leave out
  }
  const bins = join(source, 'bins', 'linux-x64');
  const copyBins = join(portablePackage, 'bins', 'linux-x64');
  const wanted = readdirSync(bins).filter((f) => !VARIANTS_LEFT_OUT.some((v) => f.includes(`-${v}.`)));
  const fresh =
    existsSync(copyBins) &&
    readFileSync(join(source, 'package.json'), 'utf8') === readFileSync(join(portablePackage, 'package.json'), 'utf8') &&
    readdirSync(copyBins).sort().join() === [...wanted].sort().join();
  if (!fresh) {
    rmSync(portablePackage, { recursive: true, force: true });
    mkdirSync(copyBins, { recursive: true });
    mkdirSync(join(portablePackage, 'dist'));
    copyFileSync(join(source, 'package.json'), join(portablePackage, 'package.json'));
    copyFileSync(join(source, 'dist', 'index.js'), join(portablePackage, 'dist', 'index.js')); // finds bins/ beside itself
    for (const f of wanted) symlinkSync(join(bins, f), join(copyBins, f));
  }
  const url = pathToFileURL(join(portablePackage, 'dist', 'index.js')).href;
  registerHooks({
    resolve: (specifier, context, next) => (specifier === packageName ? { url, format: 'module', shortCircuit: true } : next(specifier, context)),
  });
}

export interface LlamaRuntimeOptions {
  /**
   * 'portable' (the default, for references): never a variant in VARIANTS_LEFT_OUT, so results are
   * the same on every machine. 'best': whatever llama.cpp picks for this CPU (the speed benchmark's
   * native bar). A process uses one choice: the first runtime's.
   */
  readonly cpuVariant?: 'portable' | 'best';
}

let variantChoice: 'portable' | 'best' | undefined;

export class LlamaRuntime {
  private llama: Promise<Llama> | undefined;
  private readonly models = new Map<string, Promise<LlamaModel>>();
  private readonly cpuVariant: 'portable' | 'best';

  constructor(options: LlamaRuntimeOptions = {}) {
    this.cpuVariant = options.cpuVariant ?? 'portable';
  }

  /** The one Llama instance of this runtime (CPU only, prebuilt binary only). */
  instance(): Promise<Llama> {
    if (variantChoice === undefined) {
      variantChoice = this.cpuVariant;
      if (variantChoice === 'portable') usePortableVariants();
    } else if (variantChoice !== this.cpuVariant) {
      throw new ReferenceHarnessError(
        'reference_load_failed',
        `this process already loaded llama.cpp with the ${variantChoice} CPU variant; run ${this.cpuVariant} in another process`,
      );
    }
    this.llama ??= getLlama({
      gpu: false,
      build: 'never',
      usePrebuiltBinaries: true,
      skipDownload: true,
      progressLogs: false,
      logLevel: LlamaLogLevel.error,
      logger: (level, message) => {
        if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal) process.stderr.write(`llama.cpp: ${message}\n`);
      },
    }).catch((cause: unknown) => {
      this.llama = undefined;
      throw new ReferenceHarnessError(
        'reference_load_failed',
        `node-llama-cpp could not load its prebuilt CPU binary (${String(cause)}): reinstall with npm ci so @node-llama-cpp/linux-x64 is present`,
        { cause },
      );
    });
    return this.llama;
  }

  /** Loads a model once per (path, size, mtime): a regenerated file is loaded again. */
  async model(modelPath: string): Promise<LlamaModel> {
    let stat: ReturnType<typeof statSync>;
    try {
      stat = statSync(modelPath);
    } catch (cause) {
      throw new ReferenceHarnessError('reference_model_missing', `model file ${modelPath} does not exist: run npm run models, or pass an existing GGUF`, {
        cause,
      });
    }
    const key = `${modelPath}\0${stat.size}\0${stat.mtimeMs}`;
    let model = this.models.get(key);
    if (!model) {
      model = this.instance().then((llama) => llama.loadModel({ modelPath, gpuLayers: 0, useMmap: true }));
      model.catch(() => this.models.delete(key));
      this.models.set(key, model);
    }
    try {
      return await model;
    } catch (cause) {
      throw new ReferenceHarnessError(
        'reference_load_failed',
        `llama.cpp could not load ${modelPath} (${String(cause)}): the GGUF is corrupt or uses something this llama.cpp build does not support`,
        { cause },
      );
    }
  }

  async dispose(): Promise<void> {
    for (const model of this.models.values())
      await model.then(
        (m) => m.dispose(),
        () => undefined,
      );
    this.models.clear();
    if (this.llama)
      await this.llama.then(
        (l) => l.dispose(),
        () => undefined,
      );
    this.llama = undefined;
  }
}
