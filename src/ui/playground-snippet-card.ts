// "Use the API": the request the playground makes, as curl, JavaScript (OpenAI SDK) or Python, aimed
// at the companion's real address, with a copy button.
import { curlSnippet, openAiSdkSnippet, pythonSnippet, type SnippetInput } from '../client/playground-snippets.ts';
import { h } from './dom.ts';

export type SnippetContext = SnippetInput;

const KINDS = [
  { id: 'curl', label: 'curl', make: curlSnippet },
  { id: 'js', label: 'JavaScript', make: openAiSdkSnippet },
  { id: 'python', label: 'Python', make: pythonSnippet },
] as const;

export function snippetCard(): { element: HTMLElement; update(ctx: SnippetContext): void } {
  let ctx: SnippetContext | null = null;
  let kind: (typeof KINDS)[number]['id'] = 'curl';
  const code = h('code', { 'data-testid': 'api-snippet' });
  const pre = h('pre', { class: 'snippet', tabindex: '0', 'aria-label': 'Code snippet' }, code);
  const base = h('p', { class: 'field-hint', 'data-testid': 'api-base' });
  const copied = h('span', { class: 'copied', role: 'status' });
  const copy = h('button', { type: 'button', class: 'button small' }, 'Copy');
  const tabs = h('div', { class: 'segmented', role: 'group', 'aria-label': 'Snippet language' });
  const buttons = KINDS.map((k) => {
    const b = h('button', { type: 'button', 'aria-pressed': String(k.id === kind), 'data-kind': k.id }, k.label);
    b.addEventListener('click', () => {
      kind = k.id;
      for (const other of buttons) other.setAttribute('aria-pressed', String(other === b));
      render();
    });
    return b;
  });
  tabs.append(...buttons);

  const render = () => {
    if (!ctx) return;
    code.textContent = ctx.baseUrl
      ? KINDS.find((k) => k.id === kind)!.make(ctx)
      : 'No companion API answers right now. Start one with npm start, then open this view again.';
    base.replaceChildren(
      'Base URL ',
      h('code', {}, ctx.baseUrl ? `${ctx.baseUrl}/v1` : 'unknown'),
      ctx.token ? ' · needs the token npm start printed' : ' · no token needed on this machine',
    );
  };
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(code.textContent ?? '');
      copied.textContent = 'Copied';
    } catch {
      // Clipboard refused (permissions, insecure context): select the text so Ctrl+C works.
      getSelection()?.selectAllChildren(code);
      copied.textContent = 'Selected: press Ctrl+C to copy';
    }
    setTimeout(() => (copied.textContent = ''), 2500);
  });

  const element = h(
    'section',
    { class: 'card pg-api', 'aria-labelledby': 'pg-api-title' },
    h('div', { class: 'card-head' }, h('h2', { id: 'pg-api-title' }, 'Use the API'), h('div', { class: 'card-head-actions' }, copied, copy)),
    h('p', { class: 'field-hint' }, 'OpenAI-compatible: the same request from a terminal or your own code.'),
    tabs,
    pre,
    base,
  );
  return {
    element,
    update: (next) => {
      ctx = next;
      render();
    },
  };
}
