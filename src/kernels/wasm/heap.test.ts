import { describe, expect, it } from 'vitest';
import { WasmHeap } from './heap.ts';

describe('WasmHeap', () => {
  it('hands out aligned, disjoint spans, grows the memory and reuses what was released', () => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    const heap = new WasmHeap(memory, 1000);
    const a = heap.alloc(10),
      b = heap.alloc(100_000);
    expect(a % 16).toBe(0);
    expect(a).toBeGreaterThanOrEqual(1000);
    expect(b).toBeGreaterThanOrEqual(a + 16);
    expect(memory.buffer.byteLength).toBeGreaterThanOrEqual(b + 100_000);
    heap.u8().fill(7, b, b + 100_000); // the view is fresh after the growth
    const c = heap.alloc(64);
    heap.release(a, 10);
    expect(heap.alloc(16)).toBe(a); // first fit into the released span
    heap.release(c, 64);
    expect(heap.alloc(64)).toBe(c); // the top span is given back to the bump pointer and taken again
  });

  it('regions are reused while big enough and move when they must grow', () => {
    const heap = new WasmHeap(new WebAssembly.Memory({ initial: 1 }), 64);
    const r = heap.region('x', 100);
    expect(heap.region('x', 50)).toBe(r);
    const grown = heap.region('x', 5000);
    heap.u8().fill(1, grown, grown + 5000);
    expect(heap.region('x', 5000)).toBe(grown);
    expect(heap.region('y', 10)).not.toBe(grown);
  });

  it('says how to recover when the 4 GiB WASM limit is hit', () => {
    const heap = new WasmHeap(new WebAssembly.Memory({ initial: 1, maximum: 2 }), 64);
    expect(() => heap.alloc(200_000)).toThrow(/could not grow their memory/);
  });
});
