// Keeps the inference sessions of recent generations of one model, so the next turn of a
// conversation reuses the KV cache of the prefix it shares with an earlier one: the session is
// truncated to the common prefix and only the new tokens are evaluated. Bounded in count and bytes
// (least recently used goes first); a taken session belongs to one generation until it is put back.
import type { InferenceSession } from '../engine/session.ts';

export interface SessionCacheOptions {
  /** Idle sessions kept per model. Default 4; 0 turns reuse off. */
  maxSessions?: number;
  /** Upper bound on the KV bytes the idle sessions hold together. Default 256 MiB. */
  maxBytes?: number;
}

export const DEFAULT_SESSION_CACHE: Required<SessionCacheOptions> = { maxSessions: 4, maxBytes: 256 * 1024 * 1024 };

export interface Taken {
  session: InferenceSession;
  /** Prompt tokens already held by the session (its KV cache is reused for them). */
  reused: number;
}

/** Length of the common prefix of two token lists. */
export function commonPrefix(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

export class SessionCache {
  private readonly create: () => InferenceSession;
  private readonly bytesPerToken: number;
  private readonly options: Required<SessionCacheOptions>;
  /** Idle sessions, most recently used last. */
  private readonly idle: InferenceSession[] = [];

  constructor(create: () => InferenceSession, bytesPerToken: number, options: SessionCacheOptions = {}) {
    this.create = create;
    this.bytesPerToken = bytesPerToken;
    this.options = { ...DEFAULT_SESSION_CACHE, ...options };
  }

  get size(): number {
    return this.idle.length;
  }

  /** KV bytes the idle sessions hold (an estimate: held tokens × bytes per token). */
  get bytes(): number {
    return this.idle.reduce((sum, s) => sum + s.length * this.bytesPerToken, 0);
  }

  /**
   * The idle session sharing the longest prefix with `prompt`, truncated to it, or a fresh one.
   * At most prompt.length - 1 tokens are reused: the last prompt token must run to give the logits
   * of the first generated token.
   */
  take(prompt: readonly number[]): Taken {
    let best = -1;
    let bestLength = 0;
    const cap = Math.max(0, prompt.length - 1);
    for (let i = 0; i < this.idle.length; i++) {
      const n = Math.min(cap, commonPrefix(this.idle[i].tokens, prompt));
      if (n > bestLength) {
        best = i;
        bestLength = n;
      }
    }
    if (best < 0) return { session: this.create(), reused: 0 };
    const [session] = this.idle.splice(best, 1);
    session.truncate(bestLength);
    return { session, reused: bestLength };
  }

  /** Puts a session back for later turns, evicting the least recently used beyond the bounds. */
  keep(session: InferenceSession): void {
    this.idle.push(session);
    while (this.idle.length > this.options.maxSessions || (this.idle.length > 0 && this.bytes > this.options.maxBytes)) {
      this.idle.shift()!.free();
    }
  }

  /** Frees every idle session (the model is going away). */
  clear(): void {
    for (const s of this.idle.splice(0)) s.free();
  }
}

/**
 * A view of a session that already holds the first `reused` tokens of the prompt: the first
 * extend() (the prompt) runs only the tokens after them, so generateTokens() can stay unaware of reuse.
 */
export function resumeSession(session: InferenceSession, reused: number, onPrefill: (evaluated: number) => void): InferenceSession {
  let first = true;
  return {
    get tokens() {
      return session.tokens;
    },
    get length() {
      return session.length;
    },
    get maxPositions() {
      return session.maxPositions;
    },
    get exactBatch() {
      return session.exactBatch;
    },
    async extend(tokens, opts) {
      if (!first) return session.extend(tokens, opts);
      first = false;
      // Only the last row's logits are meaningful when part of the prompt is skipped.
      if (reused > 0 && opts?.logits !== 'last') throw new Error('a resumed session can only give the logits of the last prompt token');
      onPrefill(tokens.length - reused);
      return session.extend(tokens.slice(reused), opts);
    },
    truncate: (length) => session.truncate(length),
    free: () => session.free(),
  };
}
