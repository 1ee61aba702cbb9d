// The training text: the King James Version from Debian's bible-kjv-text (public domain; the package
// copyright says the text's copyright has expired), read through its `bible` program (bible-kjv), one
// verse per document, verse numbers and chapter headings dropped.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';

export class CorpusError extends Error {
  readonly code = 'TRAIN_CORPUS';
}

/** KJV verse count; a different count means a different text, so the recipe would not reproduce. */
export const KJV_VERSES = 31102;

export interface Corpus {
  readonly verses: string[];
  /** sha256 of the verses joined by newlines, recorded in the model card. */
  readonly sha256: string;
}

export function readKjv(): Corpus {
  let raw: string;
  try {
    // -l0: no line wrapping, so each verse is one line.
    raw = execFileSync('bible', ['-l0', 'Gen1:1-Rev22:21'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  } catch (e) {
    throw new CorpusError(`could not run \`bible\` (${(e as Error).message}); install it with: apt-get install -y bible-kjv bible-kjv-text`);
  }
  const verses: string[] = [];
  for (const line of raw.split('\n')) {
    const m = /^\s+\d+ (.+)$/.exec(line);
    if (m) verses.push(m[1].trim());
  }
  if (verses.length !== KJV_VERSES) throw new CorpusError(`expected ${KJV_VERSES} verses from \`bible\`, got ${verses.length}: is this bible-kjv-text 4.x?`);
  const sha256 = createHash('sha256').update(verses.join('\n')).digest('hex');
  return { verses, sha256 };
}
