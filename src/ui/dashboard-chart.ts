// Geometry of the Dashboard's pictures, as plain data (unit-tested without a DOM): the throughput
// plot's points and axis, and the layer plan's segments.

export interface PlotPoint {
  x: number;
  y: number;
  value: number;
}

export interface Plot {
  points: PlotPoint[];
  /** Top of the y axis: a round number at or above the largest value. */
  yMax: number;
  /** Values with a gridline, from 0 to yMax. */
  ticks: number[];
}

/** A round axis top: 1, 2 or 5 times a power of ten. */
export function niceCeiling(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

/** Samples in order, spread evenly across the width (one sample: in the middle); y grows downwards. */
export function throughputPlot(values: readonly number[], width: number, height: number): Plot {
  const yMax = niceCeiling(Math.max(0, ...values));
  const ticks = [0, yMax / 2, yMax];
  const points = values.map((value, i) => ({
    x: values.length === 1 ? width / 2 : (i / (values.length - 1)) * width,
    y: height - (Math.min(value, yMax) / yMax) * height,
    value,
  }));
  return { points, yMax, ticks };
}

export interface PlanSegment {
  label: string;
  start: number;
  end: number;
  /** Colour family: this tab, another peer, or the companion. */
  kind: 'self' | 'peer' | 'companion';
}

export interface PlanInput {
  layers: number;
  /** This tab's stage, when it runs one of this model. */
  self?: { start: number; end: number };
  /** Who runs the model when no plan splits it. */
  owner: string;
}

/**
 * The bar: this tab's range where it holds one, the rest attributed to the other peers; without a
 * split the owner holds every layer (one segment).
 */
export function planSegments(input: PlanInput): PlanSegment[] {
  const n = Math.max(0, input.layers);
  if (n === 0) return [];
  const self = input.self;
  if (!self || self.start >= self.end || self.end > n) return [{ label: input.owner, start: 0, end: n, kind: 'companion' }];
  const out: PlanSegment[] = [];
  if (self.start > 0) out.push({ label: 'Other peers', start: 0, end: self.start, kind: 'peer' });
  out.push({ label: 'This tab', start: self.start, end: self.end, kind: 'self' });
  if (self.end < n) out.push({ label: 'Other peers', start: self.end, end: n, kind: 'peer' });
  return out;
}

export interface MeshPlanSegment extends PlanSegment {
  peerId: string;
  /** The stage reported its layers loaded. */
  ready: boolean;
}

/** The gossiped plan's stages as bar segments, in pipeline order; this tab's own stage is `self`. */
export function meshPlanSegments(
  stages: readonly { peerId: string; layers: { start: number; end: number }; ready: boolean }[],
  selfId: string,
  labelOf: (peerId: string) => string,
): MeshPlanSegment[] {
  return stages.map((s) => ({
    label: s.peerId === selfId ? 'This tab' : labelOf(s.peerId),
    start: s.layers.start,
    end: s.layers.end,
    kind: s.peerId === selfId ? 'self' : 'peer',
    peerId: s.peerId,
    ready: s.ready,
  }));
}
