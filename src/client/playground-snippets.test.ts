import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { curlSnippet, openAiSdkSnippet, pythonSnippet } from './playground-snippets.ts';

const input = { baseUrl: 'http://127.0.0.1:9337', model: 'tiny-llama-q8_0', prompt: `it's "quoted"` };

describe('snippets', () => {
  it('curl: a shell command whose -d argument is the exact JSON body', () => {
    const snippet = curlSnippet(input);
    expect(snippet).toContain('http://127.0.0.1:9337/v1/chat/completions');
    // Let a real shell parse the quoting: the argument after -d must be the JSON we meant.
    const args = execFileSync('sh', ['-c', `printf '%s\\0' ${snippet.replace(/^curl /, '').replace(/\\\n/g, ' ')}`], { encoding: 'utf8' }).split('\0');
    const body = JSON.parse(args[args.indexOf('-d') + 1]);
    expect(body).toEqual({ model: 'tiny-llama-q8_0', stream: true, messages: [{ role: 'user', content: `it's "quoted"` }] });
    expect(snippet).not.toContain('authorization');
    expect(curlSnippet({ ...input, token: 'tok' })).toContain(`authorization: Bearer tok`);
  });

  it('SDK snippets point the client at /v1 of the base URL', () => {
    expect(openAiSdkSnippet(input)).toContain(`baseURL: "http://127.0.0.1:9337/v1"`);
    expect(pythonSnippet(input)).toContain(`base_url="http://127.0.0.1:9337/v1"`);
    expect(pythonSnippet(input)).toContain(JSON.stringify(input.prompt));
  });
});
