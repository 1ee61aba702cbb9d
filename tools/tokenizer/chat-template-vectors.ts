// Test-only: the automated cases of llama.cpp's tests/test-chat-template.cpp (template, BOS/EOS
// text, expected rendering of a fixed conversation), read from the bundled source. Node-only.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { llamaCppSource } from '../llama-source.ts';

export interface ChatTemplateCase {
  name: string;
  template: string;
  expected: string;
  bosToken: string;
  eosToken: string;
}

/** The conversation every case renders (main_automated_tests). */
export const CONVERSATION = [
  { role: 'system', content: 'You are a helpful assistant' },
  { role: 'user', content: 'Hello' },
  { role: 'assistant', content: 'Hi there' },
  { role: 'user', content: 'Who are you' },
  { role: 'assistant', content: '   I am an assistant   ' },
  { role: 'user', content: 'Another question' },
];

/** Reads consecutive C++ string literals (u8 prefixes, U8C() wrappers, escapes) starting at `pos`. */
function readLiterals(src: string, pos: number): string | undefined {
  let out: string | undefined;
  const lit = /\s*(?:U8C\(\s*)?(?:u8)?"((?:[^"\\]|\\.)*)"\s*\)?/y;
  for (;;) {
    lit.lastIndex = pos;
    const m = lit.exec(src);
    if (!m) return out;
    out = (out ?? '') + unescapeCpp(m[1]);
    pos = lit.lastIndex;
  }
}

function unescapeCpp(s: string): string {
  return s.replace(/\\(u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|.)/g, (_, e: string) => {
    if (e[0] === 'u' && e.length === 5) return String.fromCharCode(parseInt(e.slice(1), 16));
    if (e[0] === 'x' && e.length === 3) return String.fromCharCode(parseInt(e.slice(1), 16));
    return ({ n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\', "'": "'", '0': '\0' } as Record<string, string>)[e] ?? e;
  });
}

export function readChatTemplateCases(): ChatTemplateCase[] {
  const src = readFileSync(join(llamaCppSource(), 'tests', 'test-chat-template.cpp'), 'utf8');
  const start = src.indexOf('std::vector<TestCase> test_cases');
  const blocks = src.slice(start).split('/* .name= */').slice(1);
  const cases: ChatTemplateCase[] = [];
  for (const block of blocks) {
    const field = (name: string) => {
      const at = block.indexOf(`/* .${name}= */`);
      return at < 0 ? undefined : readLiterals(block, at + `/* .${name}= */`.length);
    };
    const end = block.indexOf('\n        },');
    const body = end < 0 ? block : block.slice(0, end);
    if (/\.supported_with_jinja= \*\/\s*false/.test(body) || body.includes('extra_conversation')) continue;
    const name = readLiterals(block, 0);
    const template = field('template_str');
    const plain = field('expected_output');
    if (name === undefined || template === undefined || plain === undefined) continue;
    const jinja = field('expected_output_jinja') ?? '';
    const within = (v: string | undefined, key: string) => (body.includes(`/* .${key}= */`) ? (v ?? '') : '');
    cases.push({
      name,
      template,
      expected: (jinja || plain).replaceAll('\r\n', '\n'),
      bosToken: within(field('bos_token'), 'bos_token'),
      eosToken: within(field('eos_token'), 'eos_token'),
    });
  }
  return cases;
}
