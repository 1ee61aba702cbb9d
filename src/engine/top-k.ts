// Partial selection: the k largest of n values in O(n log k), so sampling with top-k or reporting
// top-K log-probs never sorts a 150k-entry vocabulary.

/**
 * Indices of the k largest values of x[offset .. offset+n), largest first; ties go to the lower
 * index (as llama.cpp's greedy pick does). NaN counts as smaller than everything.
 */
export function topKIndices(x: ArrayLike<number>, k: number, offset = 0, n = x.length - offset): number[] {
  k = Math.max(0, Math.min(k, n));
  if (k === 0) return [];
  // A min-heap of the best k so far; heap[0] is the worst of them.
  const heap = new Int32Array(k);
  let size = 0;
  const v = (i: number) => {
    const y = x[offset + i];
    return Number.isNaN(y) ? -Infinity : y;
  };
  // a ranks below b: smaller value, or equal value and higher index.
  const below = (a: number, b: number) => {
    const va = v(a),
      vb = v(b);
    return va < vb || (va === vb && a > b);
  };
  const siftDown = (i: number) => {
    for (;;) {
      const l = 2 * i + 1,
        r = l + 1;
      let m = i;
      if (l < size && below(heap[l], heap[m])) m = l;
      if (r < size && below(heap[r], heap[m])) m = r;
      if (m === i) return;
      const t = heap[i];
      heap[i] = heap[m];
      heap[m] = t;
      i = m;
    }
  };
  for (let i = 0; i < n; i++) {
    if (size < k) {
      let j = size++;
      heap[j] = i;
      while (j > 0) {
        const p = (j - 1) >> 1;
        if (!below(heap[j], heap[p])) break;
        const t = heap[j];
        heap[j] = heap[p];
        heap[p] = t;
        j = p;
      }
    } else if (v(i) >= v(heap[0]) && below(heap[0], i)) {
      // the cheap test rejects most of a vocabulary
      heap[0] = i;
      siftDown(0);
    }
  }
  const out = Array.from(heap.subarray(0, size));
  return out.sort((a, b) => (below(a, b) ? 1 : below(b, a) ? -1 : 0));
}

/** Index of the largest value (lowest index on ties). */
export function argmax(x: ArrayLike<number>, offset = 0, n = x.length - offset): number {
  let best = 0;
  let bestV = -Infinity;
  for (let i = 0; i < n; i++) {
    const y = x[offset + i];
    if (y > bestV) {
      bestV = y;
      best = i;
    }
  }
  return best;
}
