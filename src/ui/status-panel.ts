// "This device": what the tab can run, one row per capability with a verdict a person can read at a
// glance. Rows carry data-status-row / data-verdict so tests (and support) can read them.
import type { CapabilityReport } from '../protocol/capabilities.ts';
import { h } from './dom.ts';
import { backendSummary, statusRows, type ServiceWorkerStatus, type StatusRow, type Verdict } from './status-rows.ts';

const VERDICT_TEXT: Record<Verdict, string> = { ok: 'Ready', limited: 'Limited', missing: 'Unavailable', pending: 'Pending' };

export class StatusPanel {
  readonly element: HTMLElement;
  readonly #summary: HTMLElement;
  readonly #list: HTMLElement;
  #report: CapabilityReport | undefined;
  #sw: ServiceWorkerStatus | undefined;

  constructor() {
    this.#summary = h('p', { class: 'status-summary', 'aria-live': 'polite' }, 'Checking what this device can do…');
    this.#list = h('dl', { class: 'status-list', 'aria-busy': 'true' });
    this.element = h(
      'section',
      { class: 'card status-panel', 'aria-labelledby': 'status-title', 'data-testid': 'status-panel' },
      h('h2', { id: 'status-title' }, 'This device'),
      this.#summary,
      this.#list,
    );
  }

  setReport(report: CapabilityReport): void {
    this.#report = report;
    this.#render();
  }

  setServiceWorker(status: ServiceWorkerStatus): void {
    this.#sw = status;
    this.#render();
  }

  #render(): void {
    if (!this.#report || !this.#sw) return;
    const summary = backendSummary(this.#report);
    this.#summary.textContent = summary.text;
    this.#summary.dataset.backend = summary.backend;
    this.#list.replaceChildren(...statusRows(this.#report, this.#sw).map(renderRow));
    this.#list.setAttribute('aria-busy', 'false');
    this.element.dataset.ready = 'true';
  }
}

function renderRow(row: StatusRow): HTMLElement {
  return h(
    'div',
    { class: 'status-row', 'data-status-row': row.id, 'data-verdict': row.verdict },
    h('dt', {}, row.label),
    h(
      'dd',
      {},
      h('span', { class: 'status-value' }, row.value),
      h('span', { class: `verdict verdict-${row.verdict}` }, h('span', { class: 'verdict-dot', 'aria-hidden': 'true' }), VERDICT_TEXT[row.verdict]),
      h('span', { class: 'status-detail' }, row.detail),
    ),
  );
}
