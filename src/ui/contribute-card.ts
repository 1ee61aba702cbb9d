// Home's "Contribute this tab" card: backend, memory budget and pause/resume, saved in the settings
// store, and fed to the mesh: resuming joins the invited mesh as a server with this budget, pausing
// leaves it. Its status line says what the tab really does (mesh-describe.ts), never more.
import type { MeshJoin } from '../app/mesh-join.ts';
import { MEMORY_BUDGET_RANGE, type ContributeBackend, type ContributeSettings, type SettingsStore } from './contribute-settings.ts';
import { h } from './dom.ts';
import { contributeStatus } from './mesh-describe.ts';
import { hashFor } from './views.ts';

const BACKENDS: { value: ContributeBackend; label: string; hint: string }[] = [
  { value: 'auto', label: 'Automatic', hint: 'GPU when this browser has WebGPU, else CPU' },
  { value: 'webgpu', label: 'GPU (WebGPU)', hint: 'fastest; uses graphics memory' },
  { value: 'cpu', label: 'CPU (WebAssembly)', hint: 'works everywhere; slower, uses more power' },
];

export function contributeCard(store: SettingsStore, mesh?: MeshJoin): HTMLElement {
  const settings = store.get();
  const backendGroup = h('fieldset', { class: 'field choice-group' }, h('legend', {}, 'Run layers on'));
  for (const b of BACKENDS) {
    const id = `backend-${b.value}`;
    const input = h('input', { type: 'radio', name: 'contribute-backend', id, value: b.value, checked: settings.backend === b.value });
    input.addEventListener('change', () => input.checked && store.update({ backend: b.value }));
    backendGroup.append(h('div', { class: 'choice' }, input, h('label', { for: id }, h('span', { class: 'choice-title' }, b.label), h('span', { class: 'choice-hint' }, b.hint))));
  }

  const budgetOut = h('output', { for: 'memory-budget', id: 'memory-budget-value', class: 'range-value' });
  const budget = h('input', {
    type: 'range', id: 'memory-budget', min: String(MEMORY_BUDGET_RANGE.min), max: String(MEMORY_BUDGET_RANGE.max),
    step: String(MEMORY_BUDGET_RANGE.step), value: String(settings.memoryBudgetMb), 'aria-describedby': 'memory-budget-value',
  });
  budget.addEventListener('input', () => store.update({ memoryBudgetMb: Number(budget.value) }));

  const toggle = h('button', { type: 'button', class: 'button primary', 'data-testid': 'contribute-toggle' });
  toggle.addEventListener('click', () => {
    const paused = !store.get().paused;
    store.update({ paused });
    if (!mesh) return;
    const status = mesh.state().status;
    if (paused && (status === 'joined' || status === 'starting')) void mesh.leave();
    // Resuming joins the mesh of the invite link as a server, lending the budget set here.
    if (!paused && (status === 'invited' || status === 'failed' || status === 'stopped')) {
      mesh.join('server', { budgetBytes: store.get().memoryBudgetMb * 1024 * 1024 }).catch(() => {}); // the failure is in the status line
    }
  });
  const state = h('p', { class: 'contribute-state', role: 'status', 'data-testid': 'contribute-state' });

  const render = (s: ContributeSettings) => {
    budgetOut.textContent = s.memoryBudgetMb >= 1024 ? `${(s.memoryBudgetMb / 1024).toFixed(s.memoryBudgetMb % 1024 ? 2 : 0)} GB` : `${s.memoryBudgetMb} MB`;
    budget.setAttribute('aria-valuetext', budgetOut.textContent);
    toggle.textContent = s.paused ? 'Start contributing' : 'Pause';
    toggle.setAttribute('aria-pressed', String(!s.paused));
    const status = contributeStatus(mesh?.state() ?? { status: 'none' }, s.paused);
    // 'paused' while it lends nothing by choice; 'ready' otherwise; the finer kind for styling and tests.
    state.dataset.state = status.kind === 'paused' ? 'paused' : 'ready';
    state.dataset.kind = status.kind;
    if (state.textContent !== status.text) state.textContent = status.text;
  };
  render(settings);
  store.subscribe(render);
  mesh?.onChange(() => render(store.get()));

  return h(
    'section',
    { class: 'card contribute', 'aria-labelledby': 'contribute-title' },
    h('h2', { id: 'contribute-title' }, 'Contribute this tab'),
    h('p', { class: 'lead' }, 'Lending means this tab runs a share of a model’s layers for requests from the mesh, on this device’s GPU or CPU, within the memory you allow. You can pause at any time.'),
    backendGroup,
    h('div', { class: 'field' }, h('label', { for: 'memory-budget' }, 'Memory it may use'), h('div', { class: 'range-row' }, budget, budgetOut)),
    h('div', { class: 'actions' }, toggle, h('a', { class: 'button', href: hashFor('models') }, 'Browse models')),
    state,
    h(
      'div',
      { class: 'privacy-note' },
      h('h3', {}, 'Who sees a prompt'),
      h('p', {}, 'A prompt and its reply pass through the peers that serve that request’s layers, and only those. When this tab serves, it sees the activations of the requests it serves, never who sent them. Browsers slow down background tabs, so a hidden tab may serve less.'),
    ),
  );
}
