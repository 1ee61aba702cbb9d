// The KV cache as the WASM attention sees it: each K or V array gets a copy in WASM memory that is
// brought up to date incrementally. Attention at positions firstPos.. reads every earlier position,
// so copying them all per call costs O(context) per layer and token (at 2k positions, more than the
// layer's weights); instead only rows from firstPos on (those this batch just wrote) are copied.
//
// The assumption, which the engine's KvCache meets: rows before firstPos are unchanged since the
// previous attention call on the same array. Positions are only written at the current length
// (append), and a rollback (truncate) is followed by writes from the new length, which becomes the
// next call's firstPos. An array that grows is a new array (KvCache reallocates), copied in full once.
import type { WasmHeap } from './heap.ts';

interface Mirror {
  ptr: number;
  /** Capacity in floats. */
  capacity: number;
  /** Leading floats that equal the JS array's. */
  synced: number;
}

export class ResidentKv {
  private readonly heap: WasmHeap;
  private readonly mirrors = new WeakMap<Float32Array, Mirror>();
  private readonly finalizer: FinalizationRegistry<Mirror>;

  constructor(heap: WasmHeap) {
    this.heap = heap;
    // A freed or regrown cache's arrays are collected; their copies go back to the heap.
    this.finalizer = new FinalizationRegistry((m) => heap.release(m.ptr, m.capacity * 4));
  }

  /**
   * Pointer to a WASM copy of arr[0, length) whose floats from `changedFrom` on are copied afresh
   * (everything before is taken to be unchanged since the last call with `arr`).
   */
  sync(arr: Float32Array, length: number, changedFrom: number): number {
    let m = this.mirrors.get(arr);
    if (!m || m.capacity < length) {
      if (m) {
        this.finalizer.unregister(m);
        this.heap.release(m.ptr, m.capacity * 4);
      }
      const capacity = Math.max(length, arr.length);
      m = { ptr: this.heap.alloc(capacity * 4), capacity, synced: 0 };
      this.mirrors.set(arr, m);
      this.finalizer.register(arr, m, m);
    }
    const from = Math.min(m.synced, changedFrom);
    if (length > from) this.heap.f32(m.ptr + from * 4, length - from).set(arr.subarray(from, length));
    m.synced = length;
    return m.ptr;
  }
}
