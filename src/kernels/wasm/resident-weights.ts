// Weights must sit in WASM memory to be read by the kernels. A model's loader reads them straight in
// (reserve(): this is the kernels' weightHome, so no JavaScript copy stays behind); a weight made
// elsewhere is copied in once, on first use, and stays there while the buffer holding it lives:
// decode streams every weight once per token, so copying per call would double its memory traffic.
import { GgmlType } from '../../gguf/ggml-types.ts';
import { MeshError } from '../../protocol/errors.ts';
import type { WeightHome, WeightMatrix, WeightSlot } from '../types.ts';
import type { WasmHeap } from './heap.ts';
import type { KernelInstance } from './instance.ts';

/** matmul.c's type code for F16 weights without inf/NaN (checked once, here): a cheaper widening. */
const F16_FINITE = GgmlType.F16 | 0x100;
/** matmul.c's type code for Q8_0 weights holding the quant -128, which the relaxed build's int8 dots cannot negate. */
const Q8_0_WIDE = GgmlType.Q8_0 | 0x100;
/** matmul.c's type code for Q8_0 dotted in int16 (activations in quantize_q8_0's layout 2): where int8 dots are slow. */
export const Q8_0_I16 = GgmlType.Q8_0 | 0x200;

export interface ResidentOptions {
  /** Run Q8_0 weights as Q8_0_I16 (the relaxed build where its int8 dot-add is slow; see index.ts). */
  readonly q8_0Int16?: boolean;
}

/** The type code matmul.c runs a weight of `type` at ptr with, after checking its values once. */
function kernelType(k: KernelInstance, options: ResidentOptions, type: number, ptr: number, bytes: number): number {
  if (type === GgmlType.F16) return k.exports.f16_finite(ptr, bytes / 2) === 1 ? F16_FINITE : type;
  if (type === GgmlType.Q8_0 && options.q8_0Int16) return Q8_0_I16; // int16 dots take -128 as any other value
  if (type === GgmlType.Q8_0) return k.exports.q8_0_has_min(ptr, Math.floor(bytes / 34)) === 1 ? Q8_0_WIDE : type;
  return type;
}

/** Where each block of a block-quantized type keeps its fp16 scales: [block bytes, scale offsets]. */
const SCALES: Record<number, [number, number[]]> = {
  [GgmlType.Q8_0]: [34, [0]],
  [GgmlType.Q4_0]: [18, [0]],
  [GgmlType.Q5_0]: [22, [0]],
  [GgmlType.Q4_K]: [144, [0, 2]],
  [GgmlType.Q5_K]: [176, [0, 2]],
  [GgmlType.Q6_K]: [210, [208]],
};

/**
 * The kernels read block scales with a conversion that assumes a finite fp16 (cheaper than the exact
 * one, and inf/NaN scales only come from corrupt files), so each weight is checked once here.
 */
function checkScales(w: WeightMatrix, bytes: number): void {
  const layout = SCALES[w.type];
  if (!layout) return;
  const [blockBytes, offsets] = layout;
  const d = w.data;
  for (let o = 0; o < bytes; o += blockBytes) {
    for (const s of offsets) {
      if ((d[o + s + 1] & 0x7c) === 0x7c) {
        throw new MeshError(
          'kernel_bad_weight',
          `weight ${w.name} has an infinite or NaN block scale at byte ${o + s}: the model file is corrupt; download it again`,
        );
      }
    }
  }
}

export interface Resident {
  readonly ptr: number;
  readonly size: number;
  /** The type code matmul.c is called with for this weight. */
  readonly kernelType: number;
}

export class ResidentWeights implements WeightHome {
  private readonly heap: WasmHeap;
  private readonly kernels: KernelInstance;
  // Keyed by the ArrayBuffer, then by byte range: fresh subarray views of the same tensor still hit.
  private readonly byBuffer = new WeakMap<ArrayBufferLike, { ranges: Map<string, Resident>; spans: Resident[] }>();
  private readonly finalizer: FinalizationRegistry<Resident[]>;
  private readonly byMatrix = new WeakMap<WeightMatrix, { size: number; data: Uint8Array; resident: Resident }>();
  /** Weights read straight into WASM memory by reserve(). */
  private readonly placed = new WeakMap<WeightMatrix, Resident>();

  private readonly options: ResidentOptions;

  constructor(kernels: KernelInstance, options: ResidentOptions = {}) {
    const heap = kernels.heap;
    this.kernels = kernels;
    this.options = options;
    this.heap = heap;
    // When a model's buffers are collected, their copies in WASM memory are released.
    this.finalizer = new FinalizationRegistry((spans) => {
      for (const s of spans) heap.release(s.ptr, s.size);
    });
  }

  /**
   * Room in WASM memory for one weight, written chunk by chunk as it is read from the model. The
   * sealed matrix's `data` is a view of that room (renewed when the memory grows), and the room is
   * released when the matrix is collected.
   */
  reserve(shape: Omit<WeightMatrix, 'data'>, bytes: number): WeightSlot {
    const heap = this.heap;
    const ptr = heap.alloc(bytes);
    let view: Uint8Array | undefined;
    const viewOf = () => {
      const u8 = heap.u8();
      if (view?.buffer !== u8.buffer) view = u8.subarray(ptr, ptr + bytes);
      return view;
    };
    return {
      write: (chunk, offset) => {
        if (offset < 0 || offset + chunk.byteLength > bytes) {
          throw new MeshError('kernel_bad_weight', `weight ${shape.name}: bytes ${offset}..${offset + chunk.byteLength} lie outside its ${bytes}`);
        }
        heap.u8().set(chunk, ptr + offset);
      },
      seal: () => {
        const w: WeightMatrix = {
          ...shape,
          get data() {
            return viewOf();
          },
        };
        checkScales(w, bytes);
        const resident = { ptr, size: bytes, kernelType: kernelType(this.kernels, this.options, w.type, ptr, bytes) };
        this.placed.set(w, resident);
        this.finalizer.register(w, [resident]);
        return w;
      },
      abandon: () => heap.release(ptr, bytes),
    };
  }

  /** Where the first `bytes` bytes of `w.data` sit in WASM memory (weights are treated as read-only). */
  resident(w: WeightMatrix, bytes: number): Resident {
    const placed = this.placed.get(w);
    if (placed && placed.size >= bytes) return placed;
    // Fast path: the same WeightMatrix object again (every call of a loaded model), no key to build.
    const known = this.byMatrix.get(w);
    if (known && known.size === bytes && known.data === w.data) return known.resident;
    const hit = this.residentByRange(w, bytes);
    this.byMatrix.set(w, { size: bytes, data: w.data, resident: hit });
    return hit;
  }

  private residentByRange(w: WeightMatrix, bytes: number): Resident {
    const data = w.data;
    let entry = this.byBuffer.get(data.buffer);
    if (!entry) {
      entry = { ranges: new Map(), spans: [] };
      this.byBuffer.set(data.buffer, entry);
      this.finalizer.register(data.buffer, entry.spans);
    }
    const key = `${data.byteOffset}:${bytes}`;
    let hit = entry.ranges.get(key);
    if (!hit) {
      checkScales(w, bytes);
      const ptr = this.heap.alloc(bytes);
      this.heap.u8().set(data.subarray(0, bytes), ptr);
      hit = { ptr, size: bytes, kernelType: kernelType(this.kernels, this.options, w.type, ptr, bytes) };
      entry.ranges.set(key, hit);
      entry.spans.push(hit);
    }
    return hit;
  }
}
