// Linear memory of one kernel module instance: a first-fit allocator over WebAssembly.Memory (grown
// on demand), reusable scratch regions for per-call activations, and views that survive growth.
import { MeshError } from '../../protocol/errors.ts';

const PAGE = 65536;
/** The least the memory grows by: a model's weights arrive one tensor at a time, and each grow costs. */
const MIN_GROW = 32 << 20;
const ALIGN = 16; // v128 loads are fastest aligned, and every kernel layout is a multiple of 16 bytes

interface Span {
  ptr: number;
  size: number;
}

export class WasmHeap {
  readonly memory: WebAssembly.Memory;
  private top: number;
  private free: Span[] = [];
  private scratch = new Map<string, Span>();
  private bytes: Uint8Array;

  constructor(memory: WebAssembly.Memory, heapBase: number) {
    this.memory = memory;
    this.top = align(heapBase);
    this.bytes = new Uint8Array(memory.buffer);
  }

  /** A fresh byte view of the whole memory (growing the memory detaches older views). */
  u8(): Uint8Array {
    if (this.bytes.buffer !== this.memory.buffer) this.bytes = new Uint8Array(this.memory.buffer);
    return this.bytes;
  }

  f32(ptr: number, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, length);
  }

  /** Bytes in use past the module's own data and stack. */
  get used(): number {
    return this.top - this.free.reduce((s, f) => s + f.size, 0);
  }

  alloc(bytes: number): number {
    const size = align(Math.max(bytes, 1));
    const i = this.free.findIndex((f) => f.size >= size);
    if (i >= 0) {
      const span = this.free[i];
      const ptr = span.ptr;
      if (span.size === size) this.free.splice(i, 1);
      else {
        span.ptr += size;
        span.size -= size;
      }
      return ptr;
    }
    const ptr = this.top;
    const end = ptr + size;
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      try {
        const need = Math.ceil((end - have) / PAGE);
        try {
          this.memory.grow(Math.max(need, MIN_GROW / PAGE)); // untouched pages cost no memory
        } catch {
          this.memory.grow(need); // near the memory's maximum
        }
      } catch (cause) {
        throw new MeshError(
          'kernel_out_of_memory',
          `WASM kernels could not grow their memory to ${Math.ceil(end / 2 ** 20)} MiB (the 32-bit WASM limit is 4 GiB): use a smaller model or layer range, or the WebGPU backend`,
          { cause },
        );
      }
    }
    this.top = end;
    return ptr;
  }

  release(ptr: number, bytes: number): void {
    const size = align(Math.max(bytes, 1));
    if (ptr + size === this.top) {
      this.top = ptr;
      return;
    }
    this.free.push({ ptr, size });
  }

  /** A region of at least `bytes` bytes reserved under `name`, reused (and grown) across calls. */
  region(name: string, bytes: number): number {
    const have = this.scratch.get(name);
    if (have && have.size >= bytes) return have.ptr;
    if (have) this.release(have.ptr, have.size);
    const size = align(Math.max(bytes, have ? have.size * 2 : 0));
    const ptr = this.alloc(size);
    this.scratch.set(name, { ptr, size });
    return ptr;
  }
}

function align(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}
