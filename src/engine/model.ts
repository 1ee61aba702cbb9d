// Opening a model: the GGUF header, its config, and a weight store over the same bytes. Nothing
// else is read until a head, stage or tail asks for its tensors.
import { readGgufHeader, type ByteSource, type GgufHeader } from '../gguf/reader.ts';
import { referenceKernels } from '../kernels/reference/index.ts';
import type { Kernels } from '../kernels/types.ts';
import { modelConfig, type ModelConfig } from './config.ts';
import type { Stage } from './stage.ts';
import type { Tail } from './tail.ts';
import { WeightStore } from './weights.ts';

export interface ModelFile {
  readonly header: GgufHeader;
  readonly config: ModelConfig;
  readonly store: WeightStore;
}

export async function openModel(source: ByteSource): Promise<ModelFile> {
  const header = await readGgufHeader(source);
  const config = modelConfig(header);
  return { header, config, store: new WeightStore(header, source) };
}

export interface ComputeOptions {
  /** The backend; the reference kernels unless given. */
  readonly kernels?: Kernels;
  /** A backend that runs whole stages and the tail itself (WebGPU: activations and KV stay on the GPU). */
  readonly stages?: StageBackend;
}

/** Runs layer ranges and the tail as units, for backends that cannot work op by op over host arrays. */
export interface StageBackend {
  readonly name: string;
  /** Called with a range already checked against the model. */
  openStage(model: ModelFile, first: number, end: number): Promise<Stage>;
  openTail(model: ModelFile): Promise<Tail>;
}

export function kernelsOf(opts: ComputeOptions | undefined): Kernels {
  return opts?.kernels ?? referenceKernels;
}
