// Sharing a private mesh's invite: the link with a Copy button, and the same link as a QR code for a
// phone's camera. A link that names this machine's loopback address opens nowhere else: the card
// says so, and how to make one another device can open, rather than show a code that cannot work.
import { h, svg } from './dom.ts';
import { qrModules, qrSvgMarkup } from './qr-code.ts';

export interface InviteShareOptions {
  /** The label of the link field (the one place that says what the link is for). */
  readonly label: string;
  /** Unique per page: the field's id. */
  readonly id: string;
  /** Marks the field with `data-invite="<link>"`: the stable hook tests read a head tab's invite by. */
  readonly markInvite?: boolean;
}

export function inviteShare(link: string, options: InviteShareOptions): HTMLElement {
  const input = h('input', {
    type: 'url',
    id: options.id,
    readonly: true,
    value: link,
    'data-focus-key': `${options.id}-field`,
    'data-testid': 'mesh-invite-link',
    'data-invite': options.markInvite ? link : undefined,
  });
  const copy = h('button', { type: 'button', class: 'button', 'data-focus-key': `${options.id}-copy`, 'data-testid': 'mesh-invite-copy' }, 'Copy');
  const copied = h('span', { class: 'visually-hidden', role: 'status' });
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(link);
      copy.textContent = 'Copied';
      copied.textContent = 'Invite link copied';
    } catch {
      // Clipboard refused (no permission): select the text so Ctrl+C works.
      input.select();
      copy.textContent = 'Press Ctrl+C';
      copied.textContent = 'Copying was refused: the link is selected, press Ctrl+C';
    }
  });

  const code = svg(qrSvgMarkup(qrModules(link)));
  code.setAttribute('role', 'img');
  code.setAttribute('aria-label', 'QR code of the invite link: scan it with another device’s camera to open the invite');
  const local = loopbackOnly(link);
  const figure = h(
    'figure',
    { class: 'invite-qr', 'data-testid': 'mesh-invite-qr' },
    code,
    h('figcaption', {}, local ? 'Scan to open the invite (this computer only: see below)' : 'Scan with a phone or tablet to open the invite'),
  );

  return h(
    'div',
    { class: 'invite-share' },
    h('div', { class: 'field mesh-invite' }, h('label', { for: options.id }, options.label), h('div', { class: 'range-row' }, input, copy), copied),
    figure,
    h(
      'div',
      { class: 'invite-notes' },
      h(
        'p',
        { class: 'note' },
        'The link holds the mesh’s secret: whoever has it can join, serve layers and see the requests they serve. Share it only with devices you trust.',
      ),
      local
        ? h(
            'p',
            { class: 'note', 'data-testid': 'mesh-invite-local' },
            `This link names ${local}, which only this computer reaches. To bring another device, run npm start -- --host 0.0.0.0 --https on this computer and share the invite it prints then.`,
          )
        : null,
    ),
  );
}

/** The loopback host a link names (127.x, localhost, ::1), or undefined when other devices may reach it. */
export function loopbackOnly(link: string): string | undefined {
  let host: string;
  try {
    host = new URL(link).hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  } catch {
    return undefined;
  }
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host) ? host : undefined;
}
