// Writes the PWA icons into public/icons/ from the mark in src/ui/logo.ts. Run after changing the mark:
//   node_modules/.bin/node tools/icons/main.ts
// The output is committed (the build only copies it); tools/icons/icons.test.ts checks it is current.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { markSvg } from '../../src/ui/logo.ts';
import { encodePng } from './png.ts';
import { renderIcon, type IconPurpose } from './render.ts';

export const ICON_DIR = join(import.meta.dirname, '..', '..', 'public', 'icons');

export const PNG_ICONS: ReadonlyArray<{ file: string; size: number; purpose: IconPurpose }> = [
  { file: 'icon-192.png', size: 192, purpose: 'any' },
  { file: 'icon-512.png', size: 512, purpose: 'any' },
  { file: 'maskable-192.png', size: 192, purpose: 'maskable' },
  { file: 'maskable-512.png', size: 512, purpose: 'maskable' },
  // iOS ignores the manifest's icons and rounds corners itself, so it gets a full square.
  { file: 'apple-touch-icon.png', size: 180, purpose: 'maskable' },
];

export const SVG_ICON = 'icon.svg';

export function svgIcon(): string {
  return `${markSvg({ tile: true })}\n`;
}

if (import.meta.main) {
  mkdirSync(ICON_DIR, { recursive: true });
  for (const icon of PNG_ICONS) {
    writeFileSync(join(ICON_DIR, icon.file), encodePng(renderIcon(icon.size, icon.purpose)));
    console.log(`icons: ${icon.file}`);
  }
  writeFileSync(join(ICON_DIR, SVG_ICON), svgIcon());
  console.log(`icons: ${SVG_ICON}`);
}
