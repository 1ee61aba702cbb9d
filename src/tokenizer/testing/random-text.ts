// Test-only: seeded random texts that hit the tokenizers' edge cases (mixed scripts, combining
// marks, odd whitespace, digit runs, contractions, emoji sequences, special-token texts).

const POOLS: string[][] = [
  ['Hello', 'world', 'the', 'tokenizer', 'A', 'I', 'x', 'LLaMA', 'cpp', 'über', 'naïve', 'Ünïcödé', 'ſ', 'İstanbul'],
  [' ', '  ', '   ', '\t', '\n', '\n\n', '\r\n', ' \n', '\u00a0', '\u2009', '\u3000', '\u0085', '\u000b', '\u000c', '\u200b', '\ufeff'],
  ['0', '7', '42', '123', '2024', '1234567', '3.14', '１２３', '²', 'Ⅻ', '٣', '१२'],
  ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "'Re", "'", "''", '"', '`'],
  [
    '.',
    ',',
    '!',
    '?',
    '...',
    '(',
    ')',
    '[',
    ']',
    '{',
    '}',
    '<',
    '>',
    '=',
    '+',
    '-',
    '_',
    '/',
    '\\',
    '|',
    '~',
    '^',
    '$',
    '%',
    '&',
    '*',
    '#',
    '@',
    ':',
    ';',
    '…',
    '。',
    '，',
    '、',
    '—',
    '«',
    '»',
    '¿',
    '¡',
  ],
  [
    'нещо',
    'на',
    'Български',
    'αβγ',
    'Ωμέγα',
    '我想在',
    'apple工作',
    '天～',
    '한국어',
    'カタカナ',
    'ひらがな',
    'กรุงเทพ',
    'កាន់តែ',
    'مرحبا',
    'שלום',
    'हिन्दी',
    'ﬁ',
  ],
  ['e\u0301', 'a\u0308', '\u0301', '\u20dd', 'ก\u0e31', 'क\u094d'],
  ['🦙', '🚀', '😶‍🌫️', '👨‍👩‍👧', '✅', '🇺🇸', '❤️', '\u{1f3fb}', '\ue000', '\u0378', '\u{10ffff}', '\u0000', '\u0007', '\u007f'],
  ['<s>', '</s>', '<unk>', '<|endoftext|>', '<|im_start|>', '<|im_end|>', '<|begin_of_text|>', '<|eot_id|>', '<|user|>', '<|end|>', '<0x0A>', '▁', 'Ġ'],
];

/** A random text of up to `maxPieces` pieces; `specials` adds the vocabulary's own special-token texts. */
export function randomText(rand: () => number, maxPieces: number, specials: readonly string[] = []): string {
  const n = 1 + Math.floor(rand() * maxPieces);
  let s = '';
  for (let i = 0; i < n; i++) {
    const r = rand();
    if (specials.length && r < 0.06) {
      s += specials[Math.floor(rand() * specials.length)];
      continue;
    }
    const pool = POOLS[Math.floor(rand() * POOLS.length)];
    s += pool[Math.floor(rand() * pool.length)];
  }
  return s;
}
