// Copy-paste snippets for calling the companion's OpenAI-compatible API outside the app: the same
// request the playground just made, aimed at the real base URL.

export interface SnippetInput {
  /** Origin of the companion API, without /v1. */
  baseUrl: string;
  model: string;
  prompt: string;
  /** Bearer token, when the companion needs one (shown as a placeholder otherwise). */
  token?: string;
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function curlSnippet({ baseUrl, model, prompt, token }: SnippetInput): string {
  const body = JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: prompt }] });
  return [
    `curl -N ${baseUrl}/v1/chat/completions \\`,
    `  -H 'content-type: application/json' \\`,
    token ? `  -H ${shellQuote(`authorization: Bearer ${token}`)} \\` : null,
    `  -d ${shellQuote(body)}`,
  ]
    .filter((line) => line !== null)
    .join('\n');
}

export function openAiSdkSnippet({ baseUrl, model, prompt, token }: SnippetInput): string {
  return [
    `import OpenAI from 'openai';`,
    ``,
    `const client = new OpenAI({ baseURL: ${JSON.stringify(`${baseUrl}/v1`)}, apiKey: ${JSON.stringify(token ?? 'unused-on-loopback')} });`,
    `const stream = await client.chat.completions.create({`,
    `  model: ${JSON.stringify(model)},`,
    `  messages: [{ role: 'user', content: ${JSON.stringify(prompt)} }],`,
    `  stream: true,`,
    `});`,
    `for await (const chunk of stream) process.stdout.write(chunk.choices[0]?.delta?.content ?? '');`,
  ].join('\n');
}

export function pythonSnippet({ baseUrl, model, prompt, token }: SnippetInput): string {
  return [
    `from openai import OpenAI`,
    ``,
    `client = OpenAI(base_url=${JSON.stringify(`${baseUrl}/v1`)}, api_key=${JSON.stringify(token ?? 'unused-on-loopback')})`,
    `stream = client.chat.completions.create(`,
    `    model=${JSON.stringify(model)},`,
    `    messages=[{"role": "user", "content": ${JSON.stringify(prompt)}}],`,
    `    stream=True,`,
    `)`,
    `for chunk in stream:`,
    `    print(chunk.choices[0].delta.content or "", end="", flush=True)`,
  ].join('\n');
}
