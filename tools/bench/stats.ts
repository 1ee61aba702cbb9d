// Small helpers shared by the engine benchmark's parts.

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Prefill and decode tokens per second, as medians over runs (raw runs kept for the report). */
export interface Speed {
  readonly prefill: number;
  readonly decode: number;
  readonly runs: { readonly prefill: number[]; readonly decode: number[] };
  readonly note?: string;
}

export function speedOf(prefill: number[], decode: number[], note?: string): Speed {
  return { prefill: median(prefill), decode: median(decode), runs: { prefill, decode }, note };
}
