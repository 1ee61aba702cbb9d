// Loads the model the companion serves by itself (no tab needed) into a Node Engine: the WASM CPU
// kernels when they load here, the scalar reference kernels otherwise (slower, same answers).
import { basename } from 'node:path';
import type { EngineModel } from '../provider/engine-provider.ts';
import { Engine } from '../engine/engine.ts';

export interface ServedModelOptions {
  /** The name clients put in `model`; default: the file name without .gguf. */
  id?: string;
  backend: 'cpu' | 'ref';
  /** What /health names as its source (default: the path loaded), e.g. the URL it was downloaded from. */
  source?: string;
  /** Where notes go (npm start: stderr). */
  log?: (line: string) => void;
}

/** What /health says about a served model. */
export interface ServedModelInfo {
  id: string;
  backend: string;
  layers: number;
  context_length: number;
  source: string;
}

export interface ServedModel {
  model: EngineModel;
  info: ServedModelInfo;
  close(): Promise<void>;
}

/** `tiny.gguf` for /a/b/tiny.gguf or https://host/x/tiny.gguf?dl=1. */
export function modelIdOf(input: string): string {
  const path = /^https?:\/\//i.test(input) ? new URL(input).pathname : input;
  return decodeURIComponent(basename(path)).replace(/\.gguf$/i, '') || 'model';
}

export async function loadServedModel(input: string, options: ServedModelOptions): Promise<ServedModel> {
  let engine: Engine;
  if (options.backend === 'cpu') {
    try {
      engine = await Engine.load(input, { backend: 'cpu' });
    } catch (error) {
      // The model itself may be at fault: then the reference load below fails too, with its own error.
      engine = await Engine.load(input, { backend: 'ref' });
      options.log?.(`the cpu (WASM) kernels did not load (${(error as Error).message}); serving with the slower ref kernels`);
    }
  } else {
    engine = await Engine.load(input, { backend: 'ref' });
  }
  const id = options.id ?? modelIdOf(input);
  return {
    model: { id, engine, peer: 'companion', ownedBy: 'companion' },
    info: { id, backend: engine.backend, layers: engine.config.nLayer, context_length: engine.maxPositions, source: options.source ?? input },
    close: () => engine.close(),
  };
}
