// Home's "Join a public or named mesh" section (in the Mesh card while this tab is in no mesh): the
// public meshes listed on the companion's relay, each joined as a server with one click, and a name
// field for a named mesh (or a public one not listed). It says first that such a mesh's peers are
// strangers who see prompts. The element is made once and keeps its own state across the card's
// re-renders (the card moves it in and out).
import { parseRelayList, savedRelays, saveRelays, type MeshJoin, type OpenMeshName } from '../client/mesh-join.ts';
import type { PublicMeshEntry } from '../mesh/net/open-mesh.ts';
import { h } from './dom.ts';

export interface PublicMeshSectionOptions {
  /** Joins a listed mesh as a server (the card also marks this tab as contributing). */
  readonly joinListed: (mesh: OpenMeshName) => Promise<void>;
}

export interface PublicMeshSection {
  readonly element: HTMLElement;
  /** Reads the listing again (the card calls it each time it shows the section). */
  refresh(): void;
}

export function publicMeshSection(mesh: MeshJoin, options: PublicMeshSectionOptions): PublicMeshSection {
  let meshes: readonly PublicMeshEntry[] | undefined;
  let relays: readonly string[] = [];
  let listError = '';
  let nameError = '';
  // biome-ignore lint/correctness/noUnusedVariables: read by `??=` below: one listing at a time
  let loading: Promise<void> | undefined;

  const list = h('div', { class: 'public-mesh-list', 'aria-live': 'polite', 'data-testid': 'public-mesh-list' });
  const nameInput = h('input', {
    type: 'text',
    id: 'open-mesh-name',
    autocomplete: 'off',
    spellcheck: 'false',
    maxlength: '128',
    'aria-describedby': 'open-mesh-name-hint',
    'data-testid': 'open-mesh-name',
  });
  const publicBox = h('input', { type: 'checkbox', id: 'open-mesh-public', 'data-testid': 'open-mesh-public' });
  const errorLine = h('p', { class: 'mesh-error', role: 'alert', hidden: true, 'data-testid': 'open-mesh-error' });
  const form = h(
    'form',
    { class: 'open-mesh-form', 'data-testid': 'open-mesh-form' },
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'open-mesh-name' }, 'Mesh name'),
      h('p', { class: 'note', id: 'open-mesh-name-hint' }, 'A named mesh is not listed: whoever runs it tells you its name.'),
      h('div', { class: 'range-row' }, nameInput, h('button', { type: 'submit', class: 'button', 'data-testid': 'open-mesh-open' }, 'Open mesh')),
      h('div', { class: 'choice' }, publicBox, h('label', { for: 'open-mesh-public' }, 'It is a public mesh (listed), not a named one')),
    ),
    errorLine,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    try {
      // Opens it like an invite: the card then explains the terms and asks the role before joining.
      mesh.adoptOpen({ name: nameInput.value, visibility: publicBox.checked ? 'public' : 'named' });
      nameError = '';
    } catch (error) {
      nameError = error instanceof Error ? error.message : String(error);
    }
    errorLine.hidden = nameError === '';
    errorLine.textContent = nameError;
  });

  // More relays than the companion's: kept in this browser, used for the list and name look-ups.
  const relayInput = h('input', {
    type: 'text',
    id: 'open-mesh-relays',
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder: 'wss://relay.example',
    value: savedRelays().join(' '),
    'aria-describedby': 'open-mesh-relays-hint',
    'data-testid': 'open-mesh-relays',
  });
  const relayError = h('p', { class: 'mesh-error', role: 'alert', hidden: true });
  const relayForm = h(
    'form',
    { class: 'open-mesh-form' },
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'open-mesh-relays' }, 'More Nostr relays'),
      h(
        'p',
        { class: 'note', id: 'open-mesh-relays-hint' },
        'Besides the companion’s: meshes announced there are listed and found too (kept in this browser).',
      ),
      h('div', { class: 'range-row' }, relayInput, h('button', { type: 'submit', class: 'button' }, 'Save relays')),
    ),
    relayError,
  );
  relayForm.addEventListener('submit', (event) => {
    event.preventDefault();
    try {
      saveRelays(parseRelayList(relayInput.value));
      relayError.hidden = true;
      refresh();
    } catch (error) {
      relayError.hidden = false;
      relayError.textContent = error instanceof Error ? error.message : String(error);
    }
  });

  const element = h(
    'div',
    { class: 'mesh-section public-mesh', 'data-testid': 'public-mesh' },
    h('h3', {}, 'Join a public or named mesh'),
    h(
      'p',
      { class: 'public-mesh-warning', 'data-testid': 'public-mesh-warning' },
      'Anyone who knows a public or named mesh’s name can join it: its peers are strangers. They see the prompts and replies of the requests they serve, and when this tab serves, it sees theirs. Send nothing private through such a mesh.',
    ),
    list,
    form,
    relayForm,
  );

  const renderList = () => {
    const where = relays.length > 0 ? relays.join(', ') : 'no relay';
    if (listError) return list.replaceChildren(h('p', { class: 'mesh-error' }, `The list could not be read: ${listError}`), refreshButton());
    if (!meshes) return list.replaceChildren(h('p', {}, 'Looking for public meshes…'));
    if (relays.length === 0)
      return list.replaceChildren(h('p', {}, 'No Nostr relay to list public meshes from: start the companion (npm start) on this machine.'), refreshButton());
    if (meshes.length === 0) return list.replaceChildren(h('p', {}, `No public mesh is announced on ${where}.`), refreshButton());
    const items = h('ul', { class: 'plain-list public-mesh-items' });
    for (const m of meshes) {
      const join = h(
        'button',
        { type: 'button', class: 'button', 'data-testid': 'public-mesh-join', 'data-mesh': m.name, disabled: !m.headed },
        m.headed ? 'Join as server' : 'No head yet',
      );
      join.addEventListener('click', () => void options.joinListed({ name: m.name, visibility: 'public' }));
      const models = m.models.length > 0 ? m.models.join(', ') : 'no model yet';
      items.append(
        h(
          'li',
          { 'data-mesh-id': m.meshId },
          h('span', { class: 'public-mesh-name' }, m.name),
          h('span', { class: 'public-mesh-facts' }, ` · ${m.peers === 1 ? '1 peer' : `${m.peers} peers`} · ${models}`),
          join,
        ),
      );
    }
    list.replaceChildren(h('p', { class: 'note' }, `Public meshes announced on ${where}:`), items, refreshButton());
  };

  const refreshButton = () => {
    const b = h('button', { type: 'button', class: 'button link-button', 'data-testid': 'public-mesh-refresh' }, 'Look again');
    b.addEventListener('click', () => refresh());
    return b;
  };

  const refresh = () => {
    loading ??= mesh
      .listPublic()
      .then(
        (found) => {
          meshes = found.meshes;
          relays = found.relays;
          listError = '';
        },
        (error: unknown) => {
          listError = error instanceof Error ? error.message : String(error);
        },
      )
      .finally(() => {
        loading = undefined;
        renderList();
      });
  };

  renderList();
  return { element, refresh };
}
