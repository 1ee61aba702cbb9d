// Rasterises the product mark (src/ui/logo.ts) into RGBA pixels: signed distances per sample,
// 4×4 supersampling for smooth edges. 'any' icons are a rounded tile on transparency; 'maskable' ones
// fill the square, since the platform applies its own mask.
import { BRAND, MARK } from '../../src/ui/logo.ts';
import type { Rgba } from './png.ts';

export type IconPurpose = 'any' | 'maskable';

const TILE_RADIUS = 22;
const EDGE_OPACITY = 0.75;
const SAMPLES = 4;

function hex(color: string): [number, number, number] {
  const n = parseInt(color.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function insideRoundedSquare(x: number, y: number): boolean {
  const qx = Math.max(Math.abs(x - 50) - (50 - TILE_RADIUS), 0);
  const qy = Math.max(Math.abs(y - 50) - (50 - TILE_RADIUS), 0);
  return qx * qx + qy * qy <= TILE_RADIUS * TILE_RADIUS;
}

function distanceToSegment(x: number, y: number, ax: number, ay: number, bx: number, by: number): number {
  const dx = bx - ax;
  const dy = by - ay;
  const t = Math.max(0, Math.min(1, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(x - ax - t * dx, y - ay - t * dy);
}

/** Colour (straight RGB) and coverage of one sample point in the 100×100 design space. */
function sample(x: number, y: number, purpose: IconPurpose, from: number[], to: number[], ink: number[]): [number, number, number, number] {
  if (purpose === 'any' && !insideRoundedSquare(x, y)) return [0, 0, 0, 0];
  const t = Math.max(0, Math.min(1, (x + y) / 200)); // the SVG gradient runs corner to corner
  let rgb = from.map((c, i) => c + (to[i] - c) * t);
  const onEdge = MARK.edges.some(([a, b]) => {
    const p = MARK.nodes[a];
    const q = MARK.nodes[b];
    return distanceToSegment(x, y, p.x, p.y, q.x, q.y) <= MARK.stroke / 2;
  });
  if (onEdge) rgb = rgb.map((c, i) => c + (ink[i] - c) * EDGE_OPACITY);
  if (MARK.nodes.some((n) => Math.hypot(x - n.x, y - n.y) <= n.r)) rgb = ink;
  return [rgb[0], rgb[1], rgb[2], 1];
}

export function renderIcon(size: number, purpose: IconPurpose): Rgba {
  const from = hex(BRAND.background);
  const to = hex(BRAND.backgroundEnd);
  const ink = hex(BRAND.foreground);
  const data = new Uint8Array(size * size * 4);
  const scale = 100 / size;
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      // Average premultiplied samples, then un-premultiply: edges blend instead of darkening.
      let r = 0,
        g = 0,
        b = 0,
        a = 0;
      for (let sy = 0; sy < SAMPLES; sy++) {
        for (let sx = 0; sx < SAMPLES; sx++) {
          const [cr, cg, cb, ca] = sample((px + (sx + 0.5) / SAMPLES) * scale, (py + (sy + 0.5) / SAMPLES) * scale, purpose, from, to, ink);
          r += cr * ca;
          g += cg * ca;
          b += cb * ca;
          a += ca;
        }
      }
      const i = (py * size + px) * 4;
      if (a > 0) {
        data[i] = Math.round(r / a);
        data[i + 1] = Math.round(g / a);
        data[i + 2] = Math.round(b / a);
      }
      data[i + 3] = Math.round((a / (SAMPLES * SAMPLES)) * 255);
    }
  }
  return { width: size, height: size, data };
}
