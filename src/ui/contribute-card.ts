// Home's "Contribute this tab" card: backend, memory budget and pause/resume, saved in the settings
// store, and fed to the mesh: resuming joins the invited mesh as a server with this budget, pausing
// leaves it. Its status line says what the tab really does (mesh-describe.ts), never more.
import { backgroundText, type BackgroundState } from '../client/background-watch.ts';
import type { MeshJoin } from '../client/mesh-join.ts';
import { lendOptions, MEMORY_BUDGET_RANGE, type ContributeBackend, type ContributeSettings, type SettingsStore } from './contribute-settings.ts';
import { h } from './dom.ts';
import { formatBytes } from './format.ts';
import { contributeStatus } from './mesh-describe.ts';
import { hashFor } from './views.ts';

const BACKENDS: { value: ContributeBackend; label: string; hint: string }[] = [
  { value: 'auto', label: 'Automatic', hint: 'GPU when this browser has WebGPU, else CPU' },
  { value: 'webgpu', label: 'GPU (WebGPU)', hint: 'fastest; uses graphics memory' },
  { value: 'cpu', label: 'CPU (WebAssembly)', hint: 'works everywhere; slower, uses more power' },
];

/** How hidden-tab throttling is watched (src/client/background-watch.ts). */
export interface BackgroundSource {
  state(): BackgroundState;
  onChange(listener: () => void): unknown;
}

export interface ContributeCardOptions {
  /** How hidden-tab throttling is watched, to say so honestly. */
  readonly background?: BackgroundSource;
  /** This computer's private mesh (its invite link), joined when contributing starts outside any mesh. */
  readonly machineInvite?: () => Promise<string | undefined>;
}

export function contributeCard(store: SettingsStore, mesh?: MeshJoin, options: ContributeCardOptions = {}): HTMLElement {
  const { background, machineInvite } = options;
  const settings = store.get();
  const backendGroup = h('fieldset', { class: 'field choice-group' }, h('legend', {}, 'Run layers on'));
  for (const b of BACKENDS) {
    const id = `backend-${b.value}`;
    const input = h('input', { type: 'radio', name: 'contribute-backend', id, value: b.value, checked: settings.backend === b.value });
    input.addEventListener('change', () => input.checked && store.update({ backend: b.value }));
    backendGroup.append(
      h('div', { class: 'choice' }, input, h('label', { for: id }, h('span', { class: 'choice-title' }, b.label), h('span', { class: 'choice-hint' }, b.hint))),
    );
  }

  const budgetOut = h('output', { for: 'memory-budget', id: 'memory-budget-value', class: 'range-value' });
  const budget = h('input', {
    type: 'range',
    id: 'memory-budget',
    min: String(MEMORY_BUDGET_RANGE.min),
    max: String(MEMORY_BUDGET_RANGE.max),
    step: String(MEMORY_BUDGET_RANGE.step),
    value: String(settings.memoryBudgetMb),
    'aria-describedby': 'memory-budget-value',
  });
  budget.addEventListener('input', () => store.update({ memoryBudgetMb: Number(budget.value) }));

  const toggle = h('button', { type: 'button', class: 'button primary', 'data-testid': 'contribute-toggle' });
  toggle.addEventListener('click', () => {
    const paused = !store.get().paused;
    store.update({ paused });
    if (!mesh) return;
    const status = mesh.state().status;
    if (paused && (status === 'joined' || status === 'starting')) void mesh.leave();
    // Resuming joins the mesh of the invite link as a server, lending the budget set here; with no
    // invite, this computer's private mesh (the one action to contribute).
    if (!paused && (status === 'invited' || status === 'failed' || status === 'stopped')) joinAsServer(mesh).catch(() => {}); // the failure is in the status line
    if (!paused && status === 'none') joinMachineMesh(mesh);
  });
  const joinAsServer = (m: MeshJoin) => m.join('server', lendOptions(store.get()));
  const joinMachineMesh = (m: MeshJoin) => {
    void machineInvite?.()
      .then(async (link) => {
        if (!link || store.get().paused || m.state().status !== 'none') return;
        await m.adopt(link);
        await joinAsServer(m);
      })
      .catch(() => {}); // the failure is in the status line
  };
  // Contributing was left on when this tab last closed: lending goes on in this computer's private mesh.
  // (An invite link of another mesh still waits for its Join click: its terms are new to the person.)
  if (mesh && !settings.paused && mesh.state().status === 'none') joinMachineMesh(mesh);
  const state = h('p', { class: 'contribute-state', role: 'status', 'data-testid': 'contribute-state' });
  const backgroundNote = h('p', { class: 'note background-note', 'aria-live': 'polite', 'data-testid': 'background-note' });

  const render = (s: ContributeSettings) => {
    budgetOut.textContent = formatBytes(s.memoryBudgetMb * 2 ** 20);
    budget.setAttribute('aria-valuetext', budgetOut.textContent);
    toggle.textContent = s.paused ? 'Start contributing' : 'Pause';
    toggle.setAttribute('aria-pressed', String(!s.paused));
    const status = contributeStatus(mesh?.state() ?? { status: 'none' }, s.paused);
    // 'paused' while it lends nothing by choice; 'ready' otherwise; the finer kind for styling and tests.
    state.dataset.state = status.kind === 'paused' ? 'paused' : 'ready';
    state.dataset.kind = status.kind;
    if (state.textContent !== status.text) state.textContent = status.text;
    // While the tab lends (or is about to), say honestly what the browser does to it in the background.
    const lending = status.kind === 'serving' || status.kind === 'joining';
    const bg = background?.state();
    const text = !lending
      ? ''
      : ((bg && backgroundText(bg)) ?? 'Lending goes on in a background tab as far as the browser allows; this card says so if the browser slows it down.');
    backgroundNote.dataset.throttled = String(Boolean(bg?.throttled));
    backgroundNote.hidden = text === '';
    if (backgroundNote.textContent !== text) backgroundNote.textContent = text;
  };
  render(settings);
  store.subscribe(render);
  mesh?.onChange(() => render(store.get()));
  background?.onChange(() => render(store.get()));

  return h(
    'section',
    { class: 'card contribute', 'aria-labelledby': 'contribute-title' },
    h('h2', { id: 'contribute-title' }, 'Contribute this tab'),
    h(
      'p',
      { class: 'lead' },
      'Lending means this tab runs a share of a model’s layers for requests from the mesh, on this device’s GPU or CPU, within the memory you allow. You can pause at any time.',
    ),
    backendGroup,
    h('div', { class: 'field' }, h('label', { for: 'memory-budget' }, 'Memory it may use'), h('div', { class: 'range-row' }, budget, budgetOut)),
    h('div', { class: 'actions' }, toggle, h('a', { class: 'button', href: hashFor('models') }, 'Browse models')),
    state,
    backgroundNote,
    h(
      'div',
      { class: 'privacy-note' },
      h('h3', {}, 'Who sees a prompt'),
      h(
        'p',
        {},
        'A prompt and its reply pass through the peers that serve that request, and only those: the companion that heads the mesh reads them as text (it turns text into activations and back), and the tabs running its layers see its activations, numbers from which the text could be worked out. They never learn who sent it. Mesh links between peers are encrypted, so nobody else on the network sees any of it.',
      ),
    ),
  );
}
