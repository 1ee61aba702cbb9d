// Home's Mesh card: opened from an invite link, it says in plain words what joining means (compute
// lent, who sees prompts, how to leave) and offers one Join action with a role choice; once joined
// it shows the live status (peer id, role, peers and their links, the layers this tab serves) and
// Leave. Without an invite it says how to get one. The card re-renders on every mesh change.
import type { MeshJoin, MeshJoinState } from '../app/mesh-join.ts';
import type { MeshSnapshot } from '../mesh/net/peer-node.ts';
import type { PeerRole } from '../protocol/mesh-version.ts';
import type { SettingsStore } from './contribute-settings.ts';
import { h } from './dom.ts';
import { formatBytes, shortPeerId, stageText } from './mesh-describe.ts';

export function meshJoinCard(mesh: MeshJoin, settings: SettingsStore): HTMLElement {
  const body = h('div', { class: 'mesh-join-body' });
  const live = h('p', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite', 'data-testid': 'mesh-join-announce' });
  const card = h(
    'section',
    { class: 'card mesh-join', 'aria-labelledby': 'mesh-join-title', 'data-slot': 'mesh-join', 'data-testid': 'mesh-join' },
    h('h2', { id: 'mesh-join-title' }, 'Mesh'),
    live,
    body,
  );
  let role: PeerRole = mesh.state().status === 'invited' ? (mesh.state() as { role: PeerRole }).role : 'server';
  let shown = '';
  let busy = false;

  const budgetBytes = () => settings.get().memoryBudgetMb * 1024 * 1024;
  const join = async () => {
    busy = true;
    render(true);
    try {
      await mesh.join(role, { budgetBytes: budgetBytes() });
      // A server lends compute: the Contribute card shows it as contributing (its Pause leaves).
      if (role === 'server') settings.update({ paused: false });
    } catch {
      // The failure is in mesh.state(), which the card shows.
    } finally {
      busy = false;
      render(true);
    }
  };
  const leave = async () => {
    busy = true;
    render(true);
    await mesh.leave().catch(() => {});
    settings.update({ paused: true });
    busy = false;
    render(true);
  };

  const render = (force = false) => {
    const state = mesh.state();
    // Snapshots change often (peer lists, stage frames): rebuild only when something shown changed,
    // so a focused button is not replaced under the keyboard.
    const key = JSON.stringify([state, busy, role, settings.get()]);
    if (!force && key === shown) return;
    const hadFocus = card.contains(document.activeElement) ? (document.activeElement as HTMLElement).dataset.focusKey : undefined;
    shown = key;
    card.dataset.state = state.status;
    body.replaceChildren(...content(state));
    live.textContent = announcement(state);
    if (hadFocus) body.querySelector<HTMLElement>(`[data-focus-key="${hadFocus}"]`)?.focus();
  };

  const content = (state: MeshJoinState): Node[] => {
    const link = mesh.inviteLink();
    switch (state.status) {
      case 'none':
        return [
          h('p', { class: 'lead' }, 'This tab is not in a mesh. Requests go to the companion that npm start runs on this machine.'),
          h('p', {}, 'To join a private mesh, open its invite link: npm start prints one as its invite: line.'),
        ];
      case 'invited':
      case 'failed':
      case 'stopped':
        return [...explanation(), roleChoice(), ...(state.status !== 'invited' && state.error ? [h('p', { class: 'mesh-error', role: 'alert' }, `Joining failed: ${state.error}`)] : []), joinActions(), ...(link ? [inviteRow(link)] : [])];
      case 'starting':
        return [h('p', { class: 'lead' }, 'Joining the mesh: connecting to its bootstrap peer and relay…'), ...(link ? [inviteRow(link)] : [])];
      case 'joined':
        return [joinedStatus(state), h('div', { class: 'actions' }, button('Leave the mesh', 'leave', leave, 'mesh-leave')), ...(link ? [inviteRow(link)] : [])];
    }
  };

  const explanation = (): Node[] => {
    const lent = mesh.budgetBytes() ?? budgetBytes();
    return [
      h('p', { class: 'lead' }, 'You were invited to a private mesh. Here is what joining means:'),
      h(
        'ul',
        { class: 'plain-list mesh-terms', 'data-testid': 'mesh-join-terms' },
        h('li', {}, `As a server, this tab lends compute: it runs a share of a model’s layers on this device’s CPU (WebAssembly; mesh stages do not use the GPU yet), using at most ${formatBytes(lent)} of memory (set in Contribute this tab).`),
        h('li', {}, 'Prompts and replies pass through the peers that serve them: when this tab serves, it sees the activations of those requests, and the peers serving yours see them too.'),
        h('li', {}, 'As a client, this tab only sends requests and lends nothing.'),
        h('li', {}, 'You can leave at any time with Leave, or by closing the tab.'),
      ),
    ];
  };

  const roleChoice = (): HTMLElement => {
    const group = h('fieldset', { class: 'field choice-group' }, h('legend', {}, 'Join as'));
    for (const [value, title, hint] of [['server', 'Server', 'lends compute and serves layers'], ['client', 'Client', 'sends requests only']] as const) {
      const id = `mesh-role-${value}`;
      const input = h('input', { type: 'radio', name: 'mesh-role', id, value, checked: role === value, 'data-focus-key': id });
      input.addEventListener('change', () => {
        if (input.checked) role = value;
      });
      group.append(h('div', { class: 'choice' }, input, h('label', { for: id }, h('span', { class: 'choice-title' }, title), h('span', { class: 'choice-hint' }, hint))));
    }
    return group;
  };

  const joinActions = (): HTMLElement => {
    const b = button(busy ? 'Joining…' : 'Join the mesh', 'join', join, 'mesh-join-button', true);
    if (busy) b.disabled = true;
    return h('div', { class: 'actions' }, b);
  };

  return (() => {
    render(true);
    mesh.onChange(() => render());
    settings.subscribe(() => render());
    return card;
  })();
}

function joinedStatus(state: MeshSnapshot): HTMLElement {
  const peers = state.peers.filter((p) => p.member || p.announced);
  const list = h('ul', { class: 'plain-list mesh-peers', 'data-testid': 'mesh-peers' });
  for (const p of peers) {
    const links = p.links.length > 0 ? p.links.join(' + ') : 'no direct link';
    list.append(h('li', { 'data-peer': p.peerId }, h('code', { title: p.peerId }, shortPeerId(p.peerId)), ` · ${p.role ?? 'unknown role'}${p.backend ? `, ${p.backend}` : ''} · ${links}`));
  }
  return h(
    'div',
    { class: 'mesh-status', 'data-testid': 'mesh-status' },
    h('p', { class: 'lead' }, 'Joined the private mesh.'),
    h(
      'dl',
      { class: 'mesh-facts' },
      h('dt', {}, 'This tab'), h('dd', {}, h('code', { title: state.peerId }, shortPeerId(state.peerId))),
      h('dt', {}, 'Role'), h('dd', { 'data-testid': 'mesh-role' }, state.role === 'server' ? 'Server (lends compute)' : 'Client (requests only)'),
      h('dt', {}, 'Layers'), h('dd', { 'data-testid': 'mesh-layers' }, state.role === 'server' ? stageText(state.stage) : 'none: clients serve no layers'),
      h('dt', {}, 'Peers'), h('dd', { 'data-testid': 'mesh-peer-count' }, peers.length === 1 ? '1 connected' : `${peers.length} connected`),
    ),
    peers.length > 0 ? list : h('p', {}, 'No other peer yet.'),
  );
}

function inviteRow(link: string): HTMLElement {
  const input = h('input', { type: 'url', id: 'mesh-invite-link', readonly: true, value: link, 'data-focus-key': 'invite' });
  const copy = button('Copy', 'copy', async () => {
    try {
      await navigator.clipboard.writeText(link);
      copy.textContent = 'Copied';
    } catch {
      // Clipboard refused (no permission): select the text so Ctrl+C works.
      input.select();
      copy.textContent = 'Press Ctrl+C';
    }
  }, 'mesh-invite-copy');
  return h('div', { class: 'field mesh-invite' }, h('label', { for: 'mesh-invite-link' }, 'Invite link (share it to bring another device in)'), h('div', { class: 'range-row' }, input, copy));
}

function button(label: string, key: string, onClick: () => unknown, testId: string, primary = false): HTMLButtonElement {
  const b = h('button', { type: 'button', class: primary ? 'button primary' : 'button', 'data-focus-key': key, 'data-testid': testId }, label);
  b.addEventListener('click', () => void onClick());
  return b;
}

function announcement(state: MeshJoinState): string {
  switch (state.status) {
    case 'starting':
      return 'Joining the mesh';
    case 'joined':
      return `Joined the mesh as ${state.role}`;
    case 'failed':
      return 'Joining the mesh failed';
    default:
      return '';
  }
}
