// Home's "Create a private mesh" card: a model URL (a bundled model of this origin by default), this
// tab's role and the memory it lends; Create makes the mesh here and this tab heads it. Then the card
// shows the invite (link, QR code, and a field with the data-invite attribute tests read), who is
// linked and the plan. A create link for a model on another origin lands here and waits for the click.
import { createDefaults, type MeshHeadControl, type MeshHeadState } from '../client/mesh-create.ts';
import type { PeerRole } from '../protocol/mesh-version.ts';
import { h } from './dom.ts';
import { inviteShare } from './invite-share.ts';
import { shortPeerId } from './mesh-describe.ts';

const MIB = 1024 * 1024;

export function meshCreateCard(head: MeshHeadControl): HTMLElement {
  const body = h('div', { class: 'mesh-create-body' });
  const card = h(
    'section',
    { class: 'card mesh-create', 'aria-labelledby': 'mesh-create-title', 'data-testid': 'mesh-create' },
    h('h2', { id: 'mesh-create-title' }, 'Create a private mesh'),
    body,
  );
  const defaults = createDefaults(head.state(), location.origin);
  const form = { modelUrl: defaults.modelUrl, role: defaults.role as PeerRole, budgetMb: Math.round(defaults.budgetBytes / MIB) };
  let shown = '';

  const create = async () => {
    try {
      await head.create({ modelUrl: form.modelUrl, role: form.role, budgetBytes: form.budgetMb * MIB });
    } catch {
      // The failure is in head.state(), which the card shows.
    }
  };

  const render = () => {
    const state = head.state();
    const key = JSON.stringify(state);
    if (key === shown) return;
    const hadFocus = card.contains(document.activeElement) ? (document.activeElement as HTMLElement).dataset.focusKey : undefined;
    shown = key;
    card.dataset.state = state.status;
    body.replaceChildren(...content(state));
    if (hadFocus) body.querySelector<HTMLElement>(`[data-focus-key="${hadFocus}"]`)?.focus();
  };

  const content = (state: MeshHeadState): Node[] => {
    switch (state.status) {
      case 'none':
        return [
          h('p', { class: 'lead' }, 'Start a mesh from this tab alone: it plans the model across the devices you invite, with no companion.'),
          createForm(),
        ];
      case 'requested':
        return [
          h('p', { class: 'lead' }, 'A link asks this tab to create a private mesh for this model:'),
          h('p', {}, h('code', { 'data-testid': 'mesh-create-requested-url' }, state.request.model.url)),
          ...(state.request.needsClick ? [h('p', { class: 'note' }, `Not created on its own: ${state.request.needsClick}.`)] : []),
          createForm(),
        ];
      case 'creating':
        return [h('p', { class: 'lead', role: 'status' }, `Creating the mesh: reading ${state.model.id} and announcing this tab on the relay…`)];
      case 'failed':
        return [h('p', { class: 'mesh-error', role: 'alert', 'data-testid': 'mesh-create-error' }, `Creating the mesh failed: ${state.error}`), createForm()];
      case 'heading':
        return heading(state);
    }
  };

  const heading = (state: Extract<MeshHeadState, { status: 'heading' }>): Node[] => {
    const plan = state.plan;
    const stop = h('button', { type: 'button', class: 'button', 'data-focus-key': 'stop', 'data-testid': 'mesh-create-stop' }, 'Stop heading the mesh');
    stop.addEventListener('click', () => void head.stop().catch(() => {}));
    return [
      h(
        'p',
        { class: 'lead', 'data-testid': 'mesh-create-status' },
        `This tab heads a private mesh for ${state.model.id} as a ${state.role === 'server' ? 'server (it answers alone until a plan is ready)' : 'client (it plans, and serves no layers)'}. ${state.members} member${state.members === 1 ? '' : 's'} linked.`,
      ),
      h(
        'p',
        { 'data-testid': 'mesh-create-plan' },
        plan
          ? `Plan ${plan.epoch}${plan.ready ? '' : ' (loading)'}: ${plan.stages.map((s) => `${shortPeerId(s.peerId)} layers ${s.layers[0]}–${s.layers[1] - 1}`).join(' → ')}`
          : 'No plan yet: invite server devices with enough memory for the model’s layers.',
      ),
      inviteShare(state.invite, { label: 'Invite link to this mesh', id: 'mesh-head-invite', markInvite: true }),
      h('p', { class: 'note' }, 'Closing this tab ends the mesh: its members are told the head left.'),
      h('div', { class: 'actions' }, stop),
    ];
  };

  const createForm = (): HTMLElement => {
    const url = h('input', { type: 'url', id: 'mesh-create-model', value: form.modelUrl, 'data-focus-key': 'model', 'data-testid': 'mesh-create-model' });
    url.addEventListener('input', () => (form.modelUrl = url.value));
    const role = h(
      'select',
      { id: 'mesh-create-role', 'data-focus-key': 'role', 'data-testid': 'mesh-create-role' },
      h('option', { value: 'server', selected: form.role === 'server' }, 'Server: also run the model here'),
      h('option', { value: 'client', selected: form.role === 'client' }, 'Client: plan only, run no layers'),
    );
    role.addEventListener('change', () => (form.role = role.value === 'client' ? 'client' : 'server'));
    const budget = h('input', { type: 'number', id: 'mesh-create-budget', min: '1', value: String(form.budgetMb), 'data-focus-key': 'budget' });
    budget.addEventListener('input', () => (form.budgetMb = Math.max(1, Number(budget.value) || 1)));
    const go = h('button', { type: 'submit', class: 'button primary', 'data-focus-key': 'create', 'data-testid': 'mesh-create-button' }, 'Create');
    const el = h(
      'form',
      { class: 'mesh-create-form' },
      h('div', { class: 'field' }, h('label', { for: 'mesh-create-model' }, 'Model URL (.gguf)'), url),
      h('div', { class: 'field' }, h('label', { for: 'mesh-create-role' }, 'This tab'), role),
      h('div', { class: 'field' }, h('label', { for: 'mesh-create-budget' }, 'Memory lent (MiB)'), budget),
      h('div', { class: 'actions' }, go),
    );
    el.addEventListener('submit', (event) => {
      event.preventDefault();
      void create();
    });
    return el;
  };

  head.onChange(render);
  render();
  return card;
}
