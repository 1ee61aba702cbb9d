// The product mark: five peers joined into a mesh. The same geometry is rasterised into the PWA icons
// by tools/icons/ (keep the two in step; a test compares them).

export interface MarkGeometry {
  nodes: ReadonlyArray<{ x: number; y: number; r: number }>;
  edges: ReadonlyArray<readonly [number, number]>;
  stroke: number;
}

/** In a 100×100 box; the content stays inside the central 80% circle (the maskable-icon safe zone). */
export const MARK: MarkGeometry = {
  nodes: [
    { x: 30, y: 33, r: 7.5 },
    { x: 70, y: 29, r: 7.5 },
    { x: 72, y: 69, r: 7.5 },
    { x: 31, y: 70, r: 7.5 },
    { x: 51, y: 50, r: 10 },
  ],
  edges: [
    [0, 1],
    [1, 2],
    [2, 3],
    [3, 0],
    [0, 4],
    [1, 4],
    [2, 4],
    [3, 4],
  ],
  stroke: 4.5,
};

export const BRAND = { background: '#0f5e57', backgroundEnd: '#0b3b4a', foreground: '#ffffff', theme: '#0f5e57' } as const;

/** SVG markup of the mark, optionally on its rounded-square tile. */
export function markSvg(options: { tile: boolean; size?: number; title?: string } = { tile: true }): string {
  const { tile, size, title } = options;
  const dims = size ? ` width="${size}" height="${size}"` : '';
  const label = title ? ` role="img" aria-label="${title}"` : ' aria-hidden="true"';
  const edges = MARK.edges.map(([a, b]) => `<line x1="${MARK.nodes[a].x}" y1="${MARK.nodes[a].y}" x2="${MARK.nodes[b].x}" y2="${MARK.nodes[b].y}"/>`).join('');
  const nodes = MARK.nodes.map((n) => `<circle cx="${n.x}" cy="${n.y}" r="${n.r}"/>`).join('');
  const back = tile
    ? `<defs><linearGradient id="mesh-tile" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="${BRAND.background}"/><stop offset="1" stop-color="${BRAND.backgroundEnd}"/></linearGradient></defs><rect width="100" height="100" rx="22" fill="url(#mesh-tile)"/>`
    : '';
  const ink = tile ? BRAND.foreground : 'currentColor';
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100"${dims}${label}>${back}<g stroke="${ink}" stroke-width="${MARK.stroke}" stroke-linecap="round" opacity="0.75">${edges}</g><g fill="${ink}">${nodes}</g></svg>`;
}
