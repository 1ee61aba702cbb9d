// The QR codes the app draws are checked with an independent decoder (jsQR): the modules, drawn
// as pixels the way the SVG draws them, must read back as the exact link.
import jsQR from 'jsqr';
import { describe, expect, it } from 'vitest';
import { encodeInvite, inviteLink } from '../mesh/invite.ts';
import { qrModules, qrSvgMarkup } from './qr-code.ts';

function pixels(modules: boolean[][], scale: number): { data: Uint8ClampedArray; size: number } {
  const size = modules.length * scale;
  const data = new Uint8ClampedArray(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const v = modules[Math.floor(y / scale)][Math.floor(x / scale)] ? 0 : 255;
      data.set([v, v, v, 255], (y * size + x) * 4);
    }
  }
  return { data, size };
}

/** Reads the modules back from the SVG path, as a browser would fill it. */
function modulesOfSvg(markup: string): boolean[][] {
  const n = Number(/viewBox="0 0 (\d+) /.exec(markup)![1]);
  const grid = Array.from({ length: n }, () => new Array<boolean>(n).fill(false));
  for (const m of markup.matchAll(/M(\d+) (\d+)h(\d+)v1h-\d+z/g)) {
    const [x, y, w] = [Number(m[1]), Number(m[2]), Number(m[3])];
    for (let i = 0; i < w; i++) grid[y][x + i] = true;
  }
  return grid;
}

describe('qr code', () => {
  const invite = inviteLink(
    'http://192.168.1.20:8080/',
    encodeInvite({
      meshId: 'ab'.repeat(32),
      secret: new Uint8Array(32).map((_, i) => i * 7),
      bootstrap: ['/ip4/192.168.1.20/tcp/9090/ws/p2p/12D3KooWQn5Jx6bqLh3kY2dX4mVvKq3Dk1Y5H8sRk7bJ4pZy8mNa'],
      relays: ['ws://192.168.1.20:7777'],
    }),
  );

  it.each([
    ['a short link', 'http://127.0.0.1:8080/'],
    ['a whole invite link', invite],
  ])('draws %s that a decoder reads back exactly', (_, text) => {
    const modules = qrModules(text);
    const { data, size } = pixels(modulesOfSvg(qrSvgMarkup(modules)), 4);
    expect(jsQR(data, size, size)?.data).toBe(text);
  });

  it('keeps a 4-module light quiet zone and three finder patterns', () => {
    const m = qrModules(invite);
    const n = m.length;
    for (let i = 0; i < n; i++)
      for (const edge of [0, 1, 2, 3, n - 1, n - 4]) {
        expect(m[edge][i]).toBe(false);
        expect(m[i][edge]).toBe(false);
      }
    // A finder's 7x7 ring: dark border, light ring, dark 3x3 centre.
    for (const [ox, oy] of [
      [4, 4],
      [n - 11, 4],
      [4, n - 11],
    ]) {
      expect(m[oy][ox + 3]).toBe(true);
      expect(m[oy + 1][ox + 1]).toBe(false);
      expect(m[oy + 3][ox + 3]).toBe(true);
    }
  });

  it('fails the decoder when the code is damaged beyond what error correction repairs (the check can fail)', () => {
    const modules = qrModules(invite).map((row) => [...row]);
    // Scramble the middle third: far more than the 7% that level L recovers.
    const n = modules.length;
    for (let y = Math.floor(n / 3); y < Math.floor((2 * n) / 3); y++) for (let x = 4; x < n - 4; x++) modules[y][x] = (x + y) % 2 === 0;
    const { data, size } = pixels(modules, 4);
    expect(jsQR(data, size, size)?.data).not.toBe(invite);
  });
});
