// Reusable activation buffers for a forward pass: a decode step would otherwise allocate a dozen
// arrays per layer (and the garbage collector, calloc and page faults cost about a tenth of a
// single-threaded decode). Each name keeps one buffer, grown as batches grow; get() hands out an
// exact-length view holding stale values, valid until the next get() of the same name.
export class Scratch {
  private readonly buffers = new Map<string, Float32Array>();

  get(name: string, length: number): Float32Array {
    let b = this.buffers.get(name);
    if (!b || b.length < length) {
      b = new Float32Array(Math.max(length, b ? b.length * 2 : 0));
      this.buffers.set(name, b);
    }
    return b.length === length ? b : b.subarray(0, length);
  }
}
