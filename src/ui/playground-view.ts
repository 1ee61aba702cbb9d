// The Playground: a streamed conversation with the model the API serves, its settings, and for each
// reply the speed and the peers that computed it. The API calls are injected by the app.
import type { ChatEvent, ChatMessage, ChatStats, ModelChoice, SamplingSettings } from '../client/playground-chat.ts';
import { h } from './dom.ts';
import { layerRangeText } from './mesh-describe.ts';
import { snippetCard, type SnippetContext } from './playground-snippet-card.ts';
import type { ViewContent } from './shell.ts';

export interface PlaygroundDeps {
  /** The models the API serves, each with where it runs. */
  listModels(): Promise<ModelChoice[]>;
  /** Calls back when the models this page serves change (the tab's engine finished loading). */
  onModelsChange?(listener: () => void): void;
  stream(model: string, messages: ChatMessage[], sampling: SamplingSettings, onEvent: (e: ChatEvent) => void, signal: AbortSignal): Promise<ChatStats>;
  /** Where the companion API is (for the snippets). */
  apiBase(): Promise<{ url: string; token?: string }>;
  describeError(error: unknown): { title: string; detail: string };
}

interface Turn {
  user: string;
  reply: string;
  stats: ChatStats | null;
}

export function playgroundView(deps: PlaygroundDeps): ViewContent {
  const turns: Turn[] = [];
  let running: AbortController | null = null;

  // ---- settings ----
  const model = h('select', { id: 'pg-model', 'data-testid': 'model-picker' }, h('option', { value: '' }, 'Loading models…'));
  const system = h('textarea', { id: 'pg-system', rows: '3', placeholder: 'You are a helpful assistant.' });
  const temperature = numberField(
    'pg-temperature',
    'Temperature',
    '0.7',
    { min: '0', max: '2', step: '0.05' },
    'Higher is more varied; 0 always picks the likeliest token.',
  );
  const topP = numberField(
    'pg-top-p',
    'Top p',
    '0.95',
    { min: '0.01', max: '1', step: '0.01' },
    'Sample only from the likeliest tokens that make up this share.',
  );
  const maxTokens = numberField('pg-max-tokens', 'Max tokens', '128', { min: '1', max: '4096', step: '1' }, 'Longest reply, in tokens.');
  const seed = numberField('pg-seed', 'Seed', '', { min: '0', step: '1', placeholder: 'random' }, 'Same seed and settings, same reply.');
  const modelNote = h('p', { class: 'field-hint', id: 'pg-model-hint' });
  model.setAttribute('aria-describedby', 'pg-model-hint');

  const settingsCard = h(
    'section',
    { class: 'card pg-settings', 'aria-labelledby': 'pg-settings-title' },
    h('h2', { id: 'pg-settings-title' }, 'Settings'),
    h('div', { class: 'field' }, h('label', { for: 'pg-model' }, 'Model'), model, modelNote),
    h('div', { class: 'field' }, h('label', { for: 'pg-system' }, 'System prompt'), system),
    h('div', { class: 'field-grid' }, temperature.wrap, topP.wrap, maxTokens.wrap, seed.wrap),
  );

  // ---- conversation ----
  const transcript = h('div', { class: 'transcript', 'data-testid': 'transcript' });
  const empty = h(
    'div',
    { class: 'transcript-empty' },
    h('p', {}, 'Send a message to start. Replies stream in as the model writes them.'),
    h(
      'p',
      { class: 'note' },
      'npm start serves a small model trained on the King James Bible: it continues your words in that style (try “And God said”). The tiny test models have random weights and reply with gibberish.',
    ),
  );
  const announce = h('p', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite' });
  const errorBox = h('div', { class: 'alert', role: 'alert', hidden: true, 'data-testid': 'playground-error' });
  const input = h('textarea', { id: 'pg-input', rows: '3', placeholder: 'Ask something…', 'aria-describedby': 'pg-input-hint' });
  const send = h('button', { type: 'submit', class: 'button primary', 'data-testid': 'send' }, 'Send');
  const stop = h('button', { type: 'button', class: 'button', disabled: true, 'data-testid': 'stop' }, 'Stop');
  const regenerate = h('button', { type: 'button', class: 'button', disabled: true, 'data-testid': 'regenerate' }, 'Regenerate');
  const clear = h('button', { type: 'button', class: 'button quiet', disabled: true }, 'Clear');
  const composer = h(
    'form',
    { class: 'composer', 'aria-label': 'Message' },
    h('label', { for: 'pg-input', class: 'visually-hidden' }, 'Message'),
    input,
    h(
      'div',
      { class: 'composer-bar' },
      h('span', { id: 'pg-input-hint', class: 'field-hint' }, 'Enter sends, Shift+Enter adds a line.'),
      h('div', { class: 'actions' }, clear, regenerate, stop, send),
    ),
  );
  const chatCard = h('section', { class: 'card pg-chat', 'aria-label': 'Conversation' }, transcript, errorBox, composer, announce);

  const snippets = snippetCard();
  let apiUp = false;
  const refreshSnippet = async () => {
    // Only ask where the companion is once it has answered: with the app's server down (offline
    // start) that lookup could only fail, and noisily.
    const base = apiUp ? await deps.apiBase().catch(() => null) : null;
    const ctx: SnippetContext = { baseUrl: base?.url ?? '', token: base?.token, model: model.value || 'model-id', prompt: turns.at(-1)?.user || 'Hello!' };
    snippets.update(ctx);
  };

  const sampling = (): SamplingSettings => ({
    temperature: numberOr(temperature.input.value, 0.7),
    topP: numberOr(topP.input.value, 0.95),
    maxTokens: Math.max(1, Math.round(numberOr(maxTokens.input.value, 128))),
    seed: seed.input.value.trim() === '' ? null : Math.round(Number(seed.input.value)),
  });

  const setRunning = (on: boolean) => {
    send.disabled = on;
    stop.disabled = !on;
    regenerate.disabled = on || turns.length === 0;
    clear.disabled = on || turns.length === 0;
    transcript.setAttribute('aria-busy', String(on));
  };

  const render = () => {
    transcript.replaceChildren(...(turns.length ? turns.flatMap((t, i) => turnNodes(t, i)) : [empty]));
    transcript.scrollTop = transcript.scrollHeight;
  };

  const run = async (turn: Turn) => {
    errorBox.hidden = true;
    const controller = new AbortController();
    running = controller;
    setRunning(true);
    const index = turns.indexOf(turn);
    render();
    const replyEl = transcript.querySelector<HTMLElement>(`[data-turn="${index}"] .msg-assistant .msg-text`)!;
    const metaEl = transcript.querySelector<HTMLElement>(`[data-turn="${index}"] .reply-meta`)!;
    metaEl.textContent = 'Waiting for the first token…';
    const messages: ChatMessage[] = [];
    if (system.value.trim()) messages.push({ role: 'system', content: system.value.trim() });
    for (const t of turns.slice(0, index)) messages.push({ role: 'user', content: t.user }, { role: 'assistant', content: t.reply });
    messages.push({ role: 'user', content: turn.user });
    announce.textContent = 'Generating a reply…';
    try {
      turn.stats = await deps.stream(
        model.value,
        messages,
        sampling(),
        (event) => {
          if (event.type === 'delta') {
            turn.reply += event.text;
            replyEl.textContent = turn.reply;
            replyEl.parentElement!.dataset.streaming = 'true';
            transcript.scrollTop = transcript.scrollHeight;
          } else if (event.type === 'open') {
            metaEl.replaceChildren(servedByText(event.servedBy, 'Served by'));
          }
        },
        controller.signal,
      );
      announce.textContent = turn.stats.finishReason === 'stopped' ? 'Stopped.' : 'Reply finished.';
    } catch (error) {
      const { title, detail } = deps.describeError(error);
      errorBox.replaceChildren(h('strong', {}, title), h('p', {}, detail));
      errorBox.hidden = false;
      errorBox.dataset.code = (error as { code?: string }).code ?? 'unknown';
      announce.textContent = '';
      if (!turn.reply) turns.splice(turns.indexOf(turn), 1);
    } finally {
      running = null;
      render();
      setRunning(false);
      void refreshSnippet();
    }
  };

  composer.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || running) return;
    if (!model.value) {
      errorBox.replaceChildren(
        h('strong', {}, 'No model to talk to'),
        h('p', {}, 'The API lists no model. Start one with npm start, or open Models to pick one.'),
      );
      errorBox.hidden = false;
      return;
    }
    input.value = '';
    const turn: Turn = { user: text, reply: '', stats: null };
    turns.push(turn);
    void run(turn);
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });
  stop.addEventListener('click', () => running?.abort());
  regenerate.addEventListener('click', () => {
    const last = turns.at(-1);
    if (!last || running) return;
    last.reply = '';
    last.stats = null;
    void run(last);
  });
  clear.addEventListener('click', () => {
    turns.length = 0;
    errorBox.hidden = true;
    render();
    setRunning(false);
    input.focus();
  });
  model.addEventListener('change', () => void refreshSnippet());

  const loadModels = async () => {
    const previous = model.value;
    try {
      const choices = await deps.listModels();
      const ids = choices.map((c) => c.id);
      apiUp = ids.length > 0;
      model.replaceChildren(
        ...(ids.length
          ? choices.map((c) => h('option', { value: c.id, 'data-runs': c.runs }, `${c.id} · ${whereText(c.runs)}`))
          : [h('option', { value: '' }, 'No model served')]),
      );
      if (ids.includes(previous)) model.value = previous;
      modelNote.textContent = ids.length
        ? `${ids.length === 1 ? 'One model' : `${ids.length} models`} served by the API now.`
        : 'The API serves no model right now: start one with npm start, or open Models and choose "Use in this tab".';
      model.dataset.loaded = 'true';
    } catch (error) {
      apiUp = false;
      model.replaceChildren(h('option', { value: '' }, 'API unreachable'));
      modelNote.textContent = deps.describeError(error).detail;
    }
    void refreshSnippet();
  };

  render();
  setRunning(false);
  deps.onModelsChange?.(() => {
    if (!running) void loadModels();
  });
  const element = h('div', { class: 'playground-grid' }, chatCard, h('div', { class: 'pg-side' }, settingsCard, snippets.element));
  return {
    element,
    shown: () => {
      if (!running) void loadModels();
    },
  };
}

/** Where a model runs, as the model picker says it. */
function whereText(runs: string): string {
  if (runs === 'tab') return 'this tab';
  if (runs === 'mesh') return 'the mesh';
  if (runs === 'companion') return 'the companion';
  return runs;
}

function turnNodes(turn: Turn, index: number): HTMLElement[] {
  const meta = h('p', { class: 'reply-meta', 'data-testid': 'reply-meta' });
  if (turn.stats) {
    const s = turn.stats;
    const parts: (string | Node)[] = [];
    const tps = h('span', { 'data-testid': 'tokens-per-second' }, s.tokensPerSecond === null ? '– tokens/s' : `${s.tokensPerSecond.toFixed(1)} tokens/s`);
    parts.push(tps, ` · ${s.usageTokens ?? s.tokens} tokens`);
    if (s.finishReason === 'stopped') parts.push(' · stopped');
    else if (s.finishReason === 'length') parts.push(' · hit max tokens');
    parts.push(' · ', servedByText(s.servedBy, 'served by'));
    meta.append(...parts);
    meta.dataset.finish = s.finishReason ?? '';
  }
  return [
    h(
      'div',
      { class: 'turn', 'data-turn': String(index) },
      h(
        'article',
        { class: 'msg msg-user', 'aria-label': 'You' },
        h('span', { class: 'msg-role', 'aria-hidden': 'true' }, 'You'),
        h('p', { class: 'msg-text' }, turn.user),
      ),
      h(
        'article',
        { class: 'msg msg-assistant', 'aria-label': 'Model', 'data-testid': 'assistant-message' },
        h('span', { class: 'msg-role', 'aria-hidden': 'true' }, 'Model'),
        h('p', { class: 'msg-text' }, turn.reply),
        meta,
      ),
    ),
  ];
}

function servedByText(servedBy: ChatStats['servedBy'], lead: string): HTMLElement {
  const el = h('span', { class: 'served-by', 'data-testid': 'served-by' });
  if (!servedBy.length) {
    el.textContent = `${lead} an unnamed peer`;
    return el;
  }
  el.append(`${lead} `);
  servedBy.forEach((s, i) => {
    if (i) el.append(', ');
    el.append(h('code', {}, s.peer), ` (${layerRangeText({ start: s.layers[0], end: s.layers[1] })})`);
  });
  return el;
}

function numberField(id: string, label: string, value: string, attrs: Record<string, string>, hint: string) {
  const input = h('input', { id, type: 'number', value, inputmode: 'decimal', 'aria-describedby': `${id}-hint`, ...attrs });
  const wrap = h('div', { class: 'field' }, h('label', { for: id }, label), input, h('span', { class: 'field-hint', id: `${id}-hint` }, hint));
  return { input, wrap };
}

function numberOr(text: string, fallback: number): number {
  const n = Number(text);
  return text.trim() !== '' && Number.isFinite(n) ? n : fallback;
}
