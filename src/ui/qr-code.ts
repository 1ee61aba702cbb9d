// A QR code of a link (the invite), drawn as one SVG path so it stays crisp at any size and prints.
// The encoding is uqr's (zero dependencies, works offline); this file only lays out the modules,
// with the 4-module quiet zone the QR standard asks for so phone cameras find it.
import { encode } from 'uqr';

const QUIET_ZONE = 4;

/**
 * Dark (true) and light modules, quiet zone included. Error correction L (7%) suits a code shown on
 * a clean screen and keeps it coarse: an invite link (~400 characters) fits in version 13 (69
 * modules, quiet zone included: 77), about 3 screen pixels a module at the size Home draws it.
 */
export function qrModules(text: string): boolean[][] {
  const { data } = encode(text, { ecc: 'L', border: QUIET_ZONE });
  return data;
}

/** SVG markup of the modules: a light background and one path of dark unit squares. */
export function qrSvgMarkup(modules: boolean[][]): string {
  const n = modules.length;
  let d = '';
  modules.forEach((row, y) => {
    // Runs of dark modules on a row become one rectangle each: a smaller path than one square per module.
    for (let x = 0; x < n; x++) {
      if (!row[x]) continue;
      let end = x;
      while (end + 1 < n && row[end + 1]) end++;
      d += `M${x} ${y}h${end - x + 1}v1h${-(end - x + 1)}z`;
      x = end;
    }
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${n} ${n}" shape-rendering="crispEdges" class="qr-code"><rect width="${n}" height="${n}" fill="#fff"/><path d="${d}" fill="#000"/></svg>`;
}
