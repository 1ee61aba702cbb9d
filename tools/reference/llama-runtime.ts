// Loads node-llama-cpp's prebuilt CPU llama.cpp, and models into it, without ever downloading or
// compiling anything (no network here; a fresh clone must not start a 10-minute cmake build).
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { getLlama, LlamaLogLevel, type Llama, type LlamaModel } from 'node-llama-cpp';
import { ReferenceHarnessError } from './errors.ts';

/** The installed node-llama-cpp version: it pins the llama.cpp build, so it keys the result cache. */
export function nodeLlamaCppVersion(): string {
  const path = fileURLToPath(new URL('../package.json', import.meta.resolve('node-llama-cpp'))); // dist/index.js → package.json
  return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
}

export class LlamaRuntime {
  private llama: Promise<Llama> | undefined;
  private readonly models = new Map<string, Promise<LlamaModel>>();

  /** The one Llama instance of this runtime (CPU only, prebuilt binary only). */
  instance(): Promise<Llama> {
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
      throw new ReferenceHarnessError('reference_load_failed',
        `node-llama-cpp could not load its prebuilt CPU binary (${String(cause)}): reinstall with npm ci so @node-llama-cpp/linux-x64 is present`, { cause });
    });
    return this.llama;
  }

  /** Loads a model once per (path, size, mtime): a regenerated file is loaded again. */
  async model(modelPath: string): Promise<LlamaModel> {
    let stat;
    try {
      stat = statSync(modelPath);
    } catch (cause) {
      throw new ReferenceHarnessError('reference_model_missing', `model file ${modelPath} does not exist: run npm run models, or pass an existing GGUF`, { cause });
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
      throw new ReferenceHarnessError('reference_load_failed', `llama.cpp could not load ${modelPath} (${String(cause)}): the GGUF is corrupt or uses something this llama.cpp build does not support`, { cause });
    }
  }

  async dispose(): Promise<void> {
    for (const model of this.models.values()) await model.then((m) => m.dispose(), () => undefined);
    this.models.clear();
    if (this.llama) await this.llama.then((l) => l.dispose(), () => undefined);
    this.llama = undefined;
  }
}
