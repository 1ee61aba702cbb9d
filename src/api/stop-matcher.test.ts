import { describe, expect, it } from 'vitest';
import { StopMatcher } from './stop-matcher.ts';

function run(stops: string[], pieces: string[]) {
  const m = new StopMatcher(stops);
  const emitted: string[] = [];
  let matched: string | null = null;
  for (const p of pieces) {
    const r = m.push(p);
    emitted.push(r.emit);
    if (r.matched) {
      matched = r.matched;
      break;
    }
  }
  if (!matched) emitted.push(m.flush());
  return { text: emitted.join(''), emitted, matched };
}

describe('StopMatcher', () => {
  it('passes text through when there are no stop sequences', () => {
    expect(run([], ['a', 'b', 'c']).emitted).toEqual(['a', 'b', 'c', '']);
  });
  it('cuts at a stop sequence split across pieces and never emits part of it', () => {
    const r = run(['END'], ['hello E', 'N', 'D more']);
    expect(r).toMatchObject({ text: 'hello ', matched: 'END' });
    expect(r.emitted.join('|')).not.toContain('E');
  });
  it('releases held-back text once it turns out not to be a stop sequence', () => {
    const r = run(['END'], ['a E', 'Nx', 'y']);
    expect(r.emitted).toEqual(['a ', 'ENx', 'y', '']);
    expect(r.matched).toBeNull();
  });
  it('releases a held-back prefix at the end of generation', () => {
    expect(run(['END'], ['abc EN'])).toMatchObject({ text: 'abc EN', matched: null });
  });
  it('picks the earliest match among several sequences', () => {
    expect(run(['xyz', 'b'], ['a xyz b'])).toMatchObject({ text: 'a ', matched: 'xyz' });
    expect(run(['\n\n', 'Q:'], ['one\n', '\ntwo'])).toMatchObject({ text: 'one', matched: '\n\n' });
  });
  it('handles overlapping prefixes (a stop that starts inside a held suffix)', () => {
    expect(run(['aab'], ['a', 'a', 'a', 'b'])).toMatchObject({ text: 'a', matched: 'aab' });
  });
  it('matches a stop sequence that arrives whole inside one piece', () => {
    expect(run(['</s>'], ['done</s>ignored'])).toMatchObject({ text: 'done', matched: '</s>' });
  });
  it('agrees with a plain search over the whole text for random splits', () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let trial = 0; trial < 300; trial++) {
      const text = Array.from({ length: 30 }, () => 'ab c'[rand(4)]).join('');
      const stops = [Array.from({ length: 1 + rand(3) }, () => 'ab c'[rand(4)]).join(''), 'cab'];
      const pieces: string[] = [];
      for (let i = 0; i < text.length; ) {
        const n = 1 + rand(4);
        pieces.push(text.slice(i, i + n));
        i += n;
      }
      const cut = Math.min(
        ...stops.map((s) => {
          const at = text.indexOf(s);
          return at < 0 ? Infinity : at;
        }),
      );
      const r = run(stops, pieces);
      expect(r.text).toBe(Number.isFinite(cut) ? text.slice(0, cut) : text);
      expect(r.matched !== null).toBe(Number.isFinite(cut));
    }
  });
});
