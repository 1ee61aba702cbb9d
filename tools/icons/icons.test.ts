import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ICON_DIR, PNG_ICONS, SVG_ICON, svgIcon } from './main.ts';
import { decodePng, encodePng } from './png.ts';
import { renderIcon } from './render.ts';

const pixel = (img: { width: number; data: Uint8Array }, x: number, y: number) => [...img.data.subarray((y * img.width + x) * 4, (y * img.width + x) * 4 + 4)];

describe('png', () => {
  it('round-trips RGBA pixels through encode and decode', () => {
    const data = new Uint8Array(5 * 3 * 4).map((_, i) => (i * 37) & 255);
    const png = encodePng({ width: 5, height: 3, data });
    expect(decodePng(png)).toEqual({ width: 5, height: 3, data });
  });

  it('rejects a corrupted chunk', () => {
    const png = encodePng({ width: 2, height: 2, data: new Uint8Array(16).fill(200) });
    png[20] ^= 1; // inside IHDR
    expect(() => decodePng(png)).toThrow(/CRC/);
  });
});

describe('icons', () => {
  it('draws the mark: white centre node, transparent corners only on the rounded tile', () => {
    const any = renderIcon(96, 'any');
    const maskable = renderIcon(96, 'maskable');
    expect(pixel(any, 49, 48)).toEqual([255, 255, 255, 255]); // centre node at (51, 50) of 100
    expect(pixel(any, 0, 0)[3]).toBe(0);
    expect(pixel(maskable, 0, 0)[3]).toBe(255);
    expect(pixel(any, 48, 4)[3]).toBe(255); // top edge is inside the tile
  });

  // Rendering every size takes seconds; the small ones prove the committed files are current.
  it.each(PNG_ICONS.filter((icon) => icon.size < 200))('committed $file matches the generator (run tools/icons/main.ts)', ({ file, size, purpose }) => {
    const committed = decodePng(readFileSync(join(ICON_DIR, file)));
    expect(committed.width).toBe(size);
    const fresh = renderIcon(size, purpose).data;
    // Math.hypot may differ in the last bit between engines: allow one of 16 samples to flip per pixel.
    let worst = 0;
    for (let i = 0; i < fresh.length; i++) worst = Math.max(worst, Math.abs(fresh[i] - committed.data[i]));
    expect(worst).toBeLessThanOrEqual(16);
  });

  it('committed large icons have the declared size', () => {
    for (const icon of PNG_ICONS) expect(decodePng(readFileSync(join(ICON_DIR, icon.file))).height).toBe(icon.size);
  });

  it('committed SVG matches the mark', () => {
    expect(readFileSync(join(ICON_DIR, SVG_ICON), 'utf8')).toBe(svgIcon());
  });
});
