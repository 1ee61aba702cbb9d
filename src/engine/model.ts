// Opening a model: the GGUF header, its config, and a weight store over the same bytes. Nothing
// else is read until a head, stage or tail asks for its tensors. A split GGUF (gguf-split shards) opens
// as one model: its shards' directories merge into one, over the shards laid end to end.
import type { ByteSource, GgufHeader } from '../gguf/reader.ts';
import { openGguf, openGgufShards, type LocatedSource, type OpenedGguf } from '../gguf/split.ts';
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

/** Opens a model file, or, given any shard of a split model that can locate its siblings, the whole split model. */
export async function openModel(source: LocatedSource): Promise<ModelFile> {
  return fromOpened(await openGguf(source));
}

/** Opens a split model from all its shards given explicitly, in any order. */
export async function openModelShards(sources: readonly ByteSource[]): Promise<ModelFile> {
  return fromOpened(await openGgufShards(sources));
}

function fromOpened({ header, source }: OpenedGguf): ModelFile {
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
