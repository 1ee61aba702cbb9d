import { describe, expect, it } from 'vitest';
import { StopMatcher } from './stop-strings.ts';

function run(stops: string[], pieces: string[]): { out: string[]; stopped: boolean; rest: string } {
  const m = new StopMatcher(stops);
  const out: string[] = [];
  for (const p of pieces) {
    const r = m.push(p);
    out.push(r.text);
    if (r.stopped) return { out, stopped: true, rest: m.flush() };
  }
  return { out, stopped: false, rest: m.flush() };
}

describe('stop strings', () => {
  it('finds a stop string spread over several tokens and never releases it', () => {
    const r = run(['world'], ['Hel', 'lo wo', 'rl', 'd! more']);
    expect(r.stopped).toBe(true);
    expect(r.out).toEqual(['Hel', 'lo ', '', '']);
    expect(r.out.join('')).toBe('Hello ');
    expect(r.rest).toBe('');
  });

  it('holds back a possible start, then releases it when it turns out not to be one', () => {
    const r = run(['\n\nUser:'], ['a\n', '\nUs', 'ually']);
    expect(r.stopped).toBe(false);
    expect(r.out).toEqual(['a', '', '\n\nUsually']);
  });

  it('releases held text at the end of generation', () => {
    const r = run(['STOP'], ['go ST']);
    expect(r.out).toEqual(['go ']);
    expect(r.rest).toBe('ST');
  });

  it('cuts at the earliest of several stop strings, even inside one token', () => {
    const r = run(['c', 'ab'], ['xxabc']);
    expect(r.out).toEqual(['xx']);
    expect(r.stopped).toBe(true);
  });

  it('passes everything through without stop strings (empty ones are ignored)', () => {
    expect(run([], ['a', 'b']).out).toEqual(['a', 'b']);
    expect(run([''], ['a']).out).toEqual(['a']);
  });
});
