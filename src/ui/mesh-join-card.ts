// Home's Mesh card: opened from an invite link, it says in plain words what joining means (compute
// lent, who sees prompts, how to leave) and offers one Join action with a role choice; once joined
// it shows the live status (peer id, role, peers and their links, the layers this tab serves) and
// Leave. Without an invite it offers this machine's private mesh (its invite as a link and a QR
// code, and joining it), a field to open an invite from a pasted link, and public or named meshes
// (public-mesh-section.ts: the relay's list and a name field). The card re-renders on every mesh change.
import type { MeshJoin, MeshJoinState } from '../client/mesh-join.ts';
import type { MeshSnapshot } from '../mesh/net/peer-node.ts';
import type { PeerRole } from '../protocol/mesh-version.ts';
import { lendOptions, type SettingsStore } from './contribute-settings.ts';
import { h } from './dom.ts';
import { inviteShare } from './invite-share.ts';
import { formatBytes } from './format.ts';
import { autoJoinedText, lendBackendText, openHeadText, runsOnText, servedText, shortPeerId, stageText } from './mesh-describe.ts';
import { publicMeshSection } from './public-mesh-section.ts';

export interface MeshJoinCardOptions {
  /** The invite of this machine's companion mesh, when the companion gives it to this page. */
  readonly machineInvite?: () => Promise<string | undefined>;
}

export function meshJoinCard(mesh: MeshJoin, settings: SettingsStore, options: MeshJoinCardOptions = {}): HTMLElement {
  const body = h('div', { class: 'mesh-join-body' });
  const live = h('p', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite', 'data-testid': 'mesh-join-announce' });
  const card = h(
    'section',
    { class: 'card mesh-join home-wide', 'aria-labelledby': 'mesh-join-title', 'data-slot': 'mesh-join', 'data-testid': 'mesh-join' },
    h('h2', { id: 'mesh-join-title' }, 'Mesh'),
    live,
    body,
  );
  let role: PeerRole = mesh.state().status === 'invited' ? (mesh.state() as { role: PeerRole }).role : 'server';
  let shown = '';
  let busy = false;
  let machineInvite: string | undefined;
  /** What the paste field holds and what was wrong with it (kept across re-renders). */
  let pasted = '';
  let pasteError = '';

  const budgetBytes = () => settings.get().memoryBudgetMb * 1024 * 1024;
  const join = async () => {
    busy = true;
    render(true);
    try {
      await mesh.join(role, lendOptions(settings.get()));
      // A server lends compute: the Contribute card shows it as contributing (its Pause leaves).
      if (role === 'server') settings.update({ paused: false });
    } catch {
      // The failure is in mesh.state(), which the card shows.
    } finally {
      busy = false;
      render(true);
    }
  };
  // Public meshes: one click joins a listed one as a server (the section warns about strangers first).
  const openSection = publicMeshSection(mesh, {
    joinListed: async (open) => {
      role = 'server';
      busy = true;
      try {
        await mesh.joinOpen(open, 'server', lendOptions(settings.get()));
        settings.update({ paused: false });
      } catch {
        // The failure is in mesh.state(), which the card shows.
      } finally {
        busy = false;
        render(true);
      }
    },
  });
  let lastStatus = '';
  const leave = async () => {
    busy = true;
    render(true);
    await mesh.leave().catch(() => {});
    settings.update({ paused: true });
    busy = false;
    render(true);
  };

  const openPasted = async (text: string, focusAfter?: string) => {
    pasted = text;
    try {
      await mesh.adopt(text);
      pasted = '';
      pasteError = '';
    } catch (error) {
      pasteError = error instanceof Error ? error.message : String(error);
    }
    render(true);
    if (focusAfter) body.querySelector<HTMLElement>(`[data-focus-key="${focusAfter}"]`)?.focus();
  };

  const render = (force = false) => {
    const state = mesh.state();
    // Snapshots change often (peer lists, stage frames): rebuild only when something shown changed,
    // so a focused button is not replaced under the keyboard.
    const key = JSON.stringify([state, busy, role, settings.get(), machineInvite, pasteError]);
    if (!force && key === shown) return;
    const hadFocus = card.contains(document.activeElement) ? (document.activeElement as HTMLElement).dataset.focusKey : undefined;
    shown = key;
    card.dataset.state = state.status;
    // Back to no mesh (first render, or after leaving): the public list may have changed meanwhile.
    if (state.status === 'none' && lastStatus !== 'none') openSection.refresh();
    lastStatus = state.status;
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
          h(
            'div',
            { class: 'mesh-sections' },
            ...(machineInvite
              ? machineMesh(machineInvite)
              : [
                  h(
                    'div',
                    { class: 'mesh-section' },
                    h('h3', {}, 'Your private mesh'),
                    h(
                      'p',
                      {},
                      'npm start prints the invite link of this computer’s private mesh as its invite: line. Open that link in this browser, or paste it here.',
                    ),
                  ),
                ]),
            h('div', {}, pasteForm(), openSection.element),
          ),
        ];
      case 'invited':
      case 'failed':
      case 'stopped':
        return [
          ...explanation(),
          roleChoice(),
          ...(state.status !== 'invited' && state.error ? [h('p', { class: 'mesh-error', role: 'alert' }, `Joining failed: ${state.error}`)] : []),
          joinActions(),
          ...(link ? [share(link)] : []),
        ];
      case 'starting':
        return [
          h(
            'p',
            { class: 'lead' },
            mesh.openMesh()
              ? 'Joining the mesh: looking up its head on the relay and connecting to it…'
              : 'Joining the mesh: connecting to its bootstrap peer and relay…',
          ),
          ...(link ? [share(link)] : []),
        ];
      case 'joined': {
        const head = openHeadText(mesh.openMesh());
        return [
          ...(mesh.autoJoined() ? [h('p', { class: 'mesh-auto-joined', 'data-testid': 'mesh-auto-joined' }, autoJoinedText(state.role))] : []),
          joinedStatus(state, new Set(mesh.companionPeerIds()), meshTitle()),
          ...(head ? [h('p', { class: 'note', 'data-testid': 'mesh-head-key' }, head)] : []),
          h('div', { class: 'actions' }, button('Leave the mesh', 'leave', leave, 'mesh-leave')),
          ...(link ? [share(link)] : []),
        ];
      }
    }
  };

  /** This machine's companion mesh: what it is, joining it, and its invite to bring another device. */
  const machineMesh = (link: string): Node[] => [
    h(
      'div',
      { class: 'mesh-section', 'data-testid': 'mesh-machine' },
      h('h3', {}, 'Your private mesh'),
      h(
        'p',
        {},
        'npm start made a private mesh for this computer. Only devices given its invite can join it; this tab and other devices then share the model’s layers.',
      ),
      h(
        'div',
        { class: 'actions' },
        button('Join it with this tab', 'join-machine', () => openPasted(link, 'join'), 'mesh-machine-join', true),
      ),
      share(link, 'Invite link to this mesh'),
    ),
  ];

  const pasteForm = (): HTMLElement => {
    const input = h('input', {
      type: 'text',
      id: 'mesh-paste',
      value: pasted,
      autocomplete: 'off',
      spellcheck: 'false',
      placeholder: 'http://…/#join=…',
      'aria-describedby': pasteError ? 'mesh-paste-hint mesh-paste-error' : 'mesh-paste-hint',
      'aria-invalid': pasteError ? 'true' : undefined,
      'data-focus-key': 'paste',
      'data-testid': 'mesh-paste',
    });
    input.addEventListener('input', () => (pasted = input.value));
    const form = h(
      'form',
      { class: 'mesh-section mesh-paste', 'data-testid': 'mesh-paste-form' },
      h('h3', {}, 'Join from an invite link'),
      h(
        'div',
        { class: 'field' },
        h('label', { for: 'mesh-paste' }, 'Paste an invite link'),
        h('p', { class: 'note', id: 'mesh-paste-hint' }, 'Someone running a mesh shares it as a link or a QR code; the token after #join= alone works too.'),
        h(
          'div',
          { class: 'range-row' },
          input,
          h('button', { type: 'submit', class: 'button', 'data-focus-key': 'paste-open', 'data-testid': 'mesh-paste-open' }, 'Open invite'),
        ),
      ),
      pasteError ? h('p', { class: 'mesh-error', id: 'mesh-paste-error', role: 'alert' }, `That invite cannot be used: ${pasteError}`) : null,
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void openPasted(input.value, 'join');
    });
    return form;
  };

  /** "the private mesh", or the public or named mesh by its name. */
  const meshTitle = (): string => {
    const open = mesh.openMesh();
    return open ? `the ${open.visibility} mesh “${open.name}”` : 'the private mesh';
  };

  const explanation = (): Node[] => {
    const lent = mesh.budgetBytes() ?? budgetBytes();
    const open = mesh.openMesh();
    return [
      h(
        'p',
        { class: 'lead' },
        open ? `You opened ${meshTitle()}. Here is what joining means:` : 'You were invited to a private mesh. Here is what joining means:',
      ),
      h(
        'ul',
        { class: 'plain-list mesh-terms', 'data-testid': 'mesh-join-terms' },
        open
          ? h(
              'li',
              { class: 'public-mesh-warning' },
              `Anyone who knows the name “${open.name}” can join this mesh: its peers are strangers. Send nothing private through it.`,
            )
          : null,
        open ? h('li', { 'data-testid': 'mesh-head-key' }, openHeadText(open)) : null,
        h(
          'li',
          {},
          `As a server, this tab lends compute: it runs a share of a model’s layers in a background worker ${lendBackendText(mesh.backendChoice() ?? lendOptions(settings.get()).backend)}, using at most ${formatBytes(lent)} of memory, graphics memory included (set in Contribute this tab).`,
        ),
        h(
          'li',
          {},
          'Prompts and replies pass through the peers that serve them: when this tab serves, it sees the activations of those requests, and the peers serving yours see them too.',
        ),
        h('li', {}, 'As a client, this tab only sends requests and lends nothing.'),
        h('li', {}, 'You can leave at any time with Leave, or by closing the tab.'),
      ),
    ];
  };

  const roleChoice = (): HTMLElement => {
    const group = h('fieldset', { class: 'field choice-group' }, h('legend', {}, 'Join as'));
    for (const [value, title, hint] of [
      ['server', 'Server', 'lends compute and serves layers'],
      ['client', 'Client', 'sends requests only'],
    ] as const) {
      const id = `mesh-role-${value}`;
      const input = h('input', { type: 'radio', name: 'mesh-role', id, value, checked: role === value, 'data-focus-key': id });
      input.addEventListener('change', () => {
        if (input.checked) role = value;
      });
      group.append(
        h('div', { class: 'choice' }, input, h('label', { for: id }, h('span', { class: 'choice-title' }, title), h('span', { class: 'choice-hint' }, hint))),
      );
    }
    return group;
  };

  const joinActions = (): HTMLElement => {
    const b = button(busy ? 'Joining…' : 'Join the mesh', 'join', join, 'mesh-join-button', true);
    if (busy) b.disabled = true;
    // Opened by a name (a link or Home's list): offer the way back to the list and the name field.
    const back = mesh.openMesh() && !busy ? button('Choose another mesh', 'dismiss', () => mesh.dismiss(), 'mesh-dismiss') : null;
    return h('div', { class: 'actions' }, b, back);
  };

  return (() => {
    render(true);
    mesh.onChange(() => render());
    settings.subscribe(() => render());
    void options.machineInvite?.().then((link) => {
      machineInvite = link;
      render();
    });
    return card;
  })();
}

function joinedStatus(state: MeshSnapshot, companions: ReadonlySet<string>, title: string): HTMLElement {
  const peers = state.peers.filter((p) => p.member || p.announced);
  const list = h('ul', { class: 'plain-list mesh-peers', 'data-testid': 'mesh-peers' });
  for (const p of peers) {
    const links = p.links.length > 0 ? p.links.join(' + ') : 'no direct link';
    const what = companions.has(p.peerId) ? 'the companion, which heads the mesh' : `${p.role ?? 'unknown role'}${p.backend ? `, ${p.backend}` : ''}`;
    list.append(h('li', { 'data-peer': p.peerId }, h('code', { title: p.peerId }, shortPeerId(p.peerId)), ` · ${what} · ${links}`));
  }
  return h(
    'div',
    { class: 'mesh-status', 'data-testid': 'mesh-status' },
    h('p', { class: 'lead', 'data-testid': 'mesh-joined-title' }, `Joined ${title}.`),
    h(
      'dl',
      { class: 'mesh-facts' },
      h('dt', {}, 'This tab'),
      h('dd', {}, h('code', { title: state.peerId }, shortPeerId(state.peerId))),
      h('dt', {}, 'Role'),
      h('dd', { 'data-testid': 'mesh-role' }, state.role === 'server' ? 'Server (lends compute)' : 'Client (requests only)'),
      h('dt', {}, 'Layers'),
      h('dd', { 'data-testid': 'mesh-layers' }, state.role === 'server' ? stageText(state.stage) : 'none: clients serve no layers'),
      ...(state.role === 'server'
        ? [
            h('dt', {}, 'Runs on'),
            h('dd', { 'data-testid': 'mesh-backend' }, runsOnText(state.stage)),
            h('dt', {}, 'Served'),
            h('dd', { 'data-testid': 'mesh-served' }, servedText(state.stage)),
          ]
        : []),
      h('dt', {}, 'Peers'),
      h('dd', { 'data-testid': 'mesh-peer-count' }, peers.length === 1 ? '1 connected' : `${peers.length} connected`),
    ),
    peers.length > 0 ? list : h('p', {}, 'No other peer yet.'),
  );
}

function share(link: string, label = 'Invite link (share it to bring another device in)'): HTMLElement {
  return inviteShare(link, { label, id: 'mesh-invite-link' });
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
