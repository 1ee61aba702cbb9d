// Streams generated tokens out as text: a token can end in the middle of a UTF-8 character
// (byte-fallback and byte-level tokens), so text is released only once its characters are whole.
import type { Tokenizer } from './tokenizer.ts';

export class TokenTextStream {
  private readonly tokenizer: Tokenizer;
  private readonly special: boolean;
  private readonly decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

  /** `special`: render control tokens (e.g. <|im_end|>) as text, as llama.cpp's unparse_special. */
  constructor(tokenizer: Tokenizer, options: { special?: boolean } = {}) {
    this.tokenizer = tokenizer;
    this.special = options.special ?? false;
  }

  /** The text this token completes (possibly empty while a character is still partial). */
  push(id: number): string {
    return this.decoder.decode(this.tokenizer.tokenToPiece(id, this.special), { stream: true });
  }

  /** Whatever is left at the end; an unfinished character comes out as U+FFFD. */
  flush(): string {
    return this.decoder.decode();
  }
}
