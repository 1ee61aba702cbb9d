// The Dashboard: the mesh this tab is in (peers, links), what the companion serves, the layer plan
// as a bar, the speed of recent replies over time, and recent errors. Every part says plainly when
// it has nothing to show yet, and why.
import type { CompanionHealth } from '../client/companion-health.ts';
import type { MeshJoinState } from '../client/mesh-join.ts';
import type { MetricsStore } from '../client/metrics-store.ts';
import { meshPlanSegments, planSegments, throughputPlot } from './dashboard-chart.ts';
import { h, svg } from './dom.ts';
import { layerRangeText } from './mesh-describe.ts';
import type { ViewContent } from './shell.ts';

export interface DashboardDeps {
  mesh(): MeshJoinState;
  /** Peer ids of the companion heading the mesh (the invite's bootstrap), badged in the peers table. */
  companionPeerIds?(): readonly string[];
  onMeshChange(listener: () => void): () => void;
  health(): Promise<CompanionHealth>;
  metrics: MetricsStore;
}

const PLOT_W = 560;
const PLOT_H = 180;

export function dashboardView(deps: DashboardDeps): ViewContent {
  let health: CompanionHealth | null = null;
  let healthError = '';

  const tiles = h('div', { class: 'dash-tiles', 'data-testid': 'dash-tiles' });
  const peers = h('div', { 'data-testid': 'dash-peers' });
  const plan = h('div', { 'data-testid': 'dash-plan' });
  const models = h('div', { 'data-testid': 'dash-models' });
  const plot = h('div', { 'data-testid': 'dash-throughput' });
  const errors = h('div', { 'data-testid': 'dash-errors' });
  const checks = h('div', { 'data-testid': 'dash-checks' });
  const card = (id: string, title: string, body: HTMLElement, extra = '') =>
    h('section', { class: `card dash-card ${extra}`, 'aria-labelledby': id }, h('h2', { id }, title), body);

  const render = () => {
    const mesh = deps.mesh();
    renderTiles(tiles, mesh, health, deps.metrics);
    renderPeers(peers, mesh, new Set(deps.companionPeerIds?.() ?? []));
    renderPlan(plan, mesh, health, healthError);
    renderModels(models, health, healthError);
    renderPlot(plot, deps.metrics);
    renderErrors(errors, deps.metrics);
    renderChecks(checks, health);
  };
  const refreshHealth = async () => {
    try {
      health = await deps.health();
      healthError = '';
    } catch (error) {
      health = null;
      healthError = error instanceof Error ? error.message : String(error);
    }
    render();
  };
  deps.onMeshChange(render);
  deps.metrics.onChange(render);

  const element = h(
    'div',
    { class: 'dashboard' },
    tiles,
    h(
      'div',
      { class: 'dash-grid' },
      card('dash-throughput-title', 'Throughput', plot, 'wide'),
      card('dash-plan-title', 'Layer plan', plan, 'wide'),
      card('dash-peers-title', 'Peers', peers, 'wide'),
      card('dash-models-title', 'Models the companion serves', models),
      card('dash-errors-title', 'Recent errors', errors),
      card('dash-checks-title', 'Stage checks', checks),
    ),
  );
  render();
  return { element, shown: () => void refreshHealth() };
}

/** What the head found re-computing its stages' work: counts, and each quarantined peer with its reason. */
function renderChecks(el: HTMLElement, health: CompanionHealth | null): void {
  const c = health?.stageChecks;
  if (!c) {
    el.replaceChildren(
      empty(
        'No stage checks to show.',
        'The companion checks the stages of its mesh plan once one is ready: it re-computes their layers and quarantines a peer whose hidden states are off.',
      ),
    );
    return;
  }
  if (c.mode === 'unchecked') {
    el.replaceChildren(h('p', { class: 'note' }, `Unchecked: ${c.note ?? 'nobody re-computes the stages’ work'}.`));
    return;
  }
  el.replaceChildren(
    h(
      'p',
      {},
      `${c.checks} checks, ${c.mismatches} mismatch${c.mismatches === 1 ? '' : 'es'}, ${c.refused} refused repl${c.refused === 1 ? 'y' : 'ies'} (NaN or infinite).`,
    ),
    c.quarantined.length
      ? h(
          'ul',
          { class: 'dash-quarantined' },
          ...c.quarantined.map((q) =>
            h('li', { 'data-peer': q.peerId }, h('code', {}, short(q.peerId)), ` quarantined until ${new Date(q.until).toLocaleTimeString()}: ${q.reason}`),
          ),
        )
      : h('p', { class: 'note' }, 'No peer is quarantined.'),
  );
}

function empty(text: string, hint?: string): HTMLElement {
  return h('div', { class: 'dash-empty' }, h('p', {}, text), hint ? h('p', { class: 'note' }, hint) : null);
}

function renderTiles(el: HTMLElement, mesh: MeshJoinState, health: CompanionHealth | null, metrics: MetricsStore): void {
  const joined = 'peers' in mesh;
  const last = metrics.replies().at(-1);
  const tile = (label: string, value: string, note: string, id: string) =>
    h(
      'div',
      { class: 'dash-tile', 'data-tile': id },
      h('p', { class: 'dash-tile-label' }, label),
      h('p', { class: 'dash-tile-value' }, value),
      h('p', { class: 'dash-tile-note' }, note),
    );
  el.replaceChildren(
    tile(
      'Mesh',
      joined ? (mesh.status === 'joined' ? 'Joined' : capital(mesh.status)) : mesh.status === 'failed' ? 'Failed' : 'Not joined',
      joined ? `as ${mesh.role}` : mesh.status === 'invited' ? 'invite link opened' : 'open an invite link to join',
      'mesh',
    ),
    tile('Peers', joined ? String(mesh.peers.length) : '–', joined ? 'connected to this tab' : 'none while not in a mesh', 'peers'),
    tile('Models', health ? String(health.models.length) : '–', health ? 'served by the companion' : 'companion not reached', 'models'),
    tile('Last reply', last ? `${last.tokensPerSecond.toFixed(1)} tok/s` : '–', last ? `${last.tokens} tokens, ${last.model}` : 'no replies yet', 'speed'),
  );
}

function renderPeers(el: HTMLElement, mesh: MeshJoinState, companions: ReadonlySet<string>): void {
  if (!('peers' in mesh)) {
    const why = mesh.status === 'failed' ? `Joining failed: ${mesh.error}` : 'This tab is not in a mesh.';
    el.replaceChildren(
      empty(why, 'Open the invite link that npm start prints (or join from Home); the peers of the mesh and how they are linked appear here.'),
    );
    return;
  }
  const head = h(
    'tr',
    {},
    ...['Peer', 'Role', 'Backend', 'Layers', 'Link', 'Round trip'].map((t) => h('th', { scope: 'col', class: t === 'Round trip' ? 'num' : undefined }, t)),
  );
  // Layers come from the head's gossiped plan (what each peer was asked to run), with its readiness.
  const planned = (peerId: string): string => {
    const stage = mesh.plan?.stages.find((s) => s.peerId === peerId);
    return stage ? `${layerRangeText(stage.layers)}${stage.ready ? '' : ' (loading)'}` : '–';
  };
  const self = h(
    'tr',
    { 'data-peer': mesh.peerId, class: 'dash-self' },
    h('td', {}, h('code', {}, short(mesh.peerId)), h('span', { class: 'badge' }, 'this tab')),
    h('td', {}, mesh.role),
    h('td', {}, 'wasm'),
    h('td', { 'data-cell': 'layers' }, mesh.plan ? planned(mesh.peerId) : mesh.stage?.layers ? layerRangeText(mesh.stage.layers) : '–'),
    h('td', {}, '–'),
    h('td', { 'data-cell': 'rtt', class: 'num' }, rttText(rttOf(mesh))),
  );
  // The companion first (it heads the mesh: plans, embeds, samples), then the tabs.
  const isCompanion = (p: object & { peerId: string }) => companions.has(p.peerId) || ('companion' in p && p.companion === true);
  const ordered = [...mesh.peers].sort((a, b) => Number(isCompanion(b)) - Number(isCompanion(a)));
  const rows = ordered.map((p) => {
    const companion = isCompanion(p);
    // The companion is the far end of every round trip here: it has none of its own.
    const rtt = companion ? undefined : rttOf(p);
    return h(
      'tr',
      { 'data-peer': p.peerId, 'data-kind': companion ? 'companion' : 'tab' },
      h(
        'td',
        {},
        h('code', { title: p.peerId }, short(p.peerId)),
        // The head is the companion (a Node peer) or, in a mesh made in a browser, a tab.
        companion
          ? h('span', { class: 'badge badge-companion', 'data-testid': 'peer-companion' }, p.backend === 'node' || !p.backend ? 'companion' : 'head tab')
          : null,
      ),
      h('td', { 'data-cell': 'role' }, companion ? 'head' : (p.role ?? 'unknown')),
      h('td', {}, p.backend ?? 'unknown'),
      h('td', { 'data-cell': 'layers' }, planned(p.peerId)),
      h('td', {}, p.links.length ? p.links.join(', ') : 'not linked'),
      h('td', { 'data-cell': 'rtt', class: 'num' }, rttText(rtt)),
    );
  });
  el.replaceChildren(
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'dash-table' },
        h('caption', { class: 'visually-hidden' }, 'Peers of this mesh'),
        h('thead', {}, head),
        h('tbody', {}, self, ...rows),
      ),
    ),
    h(
      'p',
      { class: 'note' },
      `${mesh.plan ? `Layers are those of the head’s plan (epoch ${mesh.plan.epoch}).` : 'Layers appear once the head (the companion, or the tab that made the mesh) plans a model across the mesh.'} Round trip: each peer’s measured ping to the head, as the peer reports it; “–” means not measured yet.`,
    ),
    ...droppedNote(mesh.signalsDropped),
  );
}

/** Forged, replayed or stale WebRTC signals this tab dropped (nostr-signal.ts): said, not hidden. */
function droppedNote(dropped: Partial<Record<string, number>> | undefined): HTMLElement[] {
  const entries = Object.entries(dropped ?? {}).filter(([, n]) => (n ?? 0) > 0);
  if (entries.length === 0) return [];
  const total = entries.reduce((sum, [, n]) => sum + (n ?? 0), 0);
  return [
    h(
      'p',
      { class: 'note', 'data-testid': 'dash-signals-dropped' },
      `Dropped ${total} WebRTC signal${total === 1 ? '' : 's'} from the relay that no member sent to this tab just now (${entries.map(([why, n]) => `${why}: ${n}`).join(', ')}).`,
    ),
  ];
}

function renderPlan(el: HTMLElement, mesh: MeshJoinState, health: CompanionHealth | null, healthError: string): void {
  if ('peers' in mesh && mesh.plan && mesh.plan.mode === 'pipeline') {
    renderMeshPlan(el, mesh);
    return;
  }
  const model = health?.models[0];
  const stage = 'peers' in mesh ? mesh.stage : undefined;
  const layers = model?.layers ?? 0;
  if (!model || layers === 0) {
    el.replaceChildren(
      empty(
        healthError ? 'No plan to show: the companion did not answer.' : 'No model is being served, so there is no plan yet.',
        'Start one with npm start; its layers are drawn here, split by the peer that runs them.',
      ),
    );
    return;
  }
  const self = stage?.model === model.id && stage.layers ? { start: stage.layers.start, end: stage.layers.end } : undefined;
  const segments = planSegments({ layers, self, owner: `Companion (${model.backend || 'engine'})` });
  const bar = h('div', {
    class: 'plan-bar',
    role: 'img',
    'aria-label': `${model.id}: ${segments.map((s) => `${s.label} runs layers ${s.start} to ${s.end - 1}`).join('; ')}`,
  });
  for (const s of segments) {
    bar.append(
      h(
        'div',
        { class: `plan-seg plan-${s.kind}`, style: `flex-grow: ${s.end - s.start}`, 'data-segment': s.kind },
        h('span', { class: 'plan-seg-label' }, s.label),
        h('span', { class: 'plan-seg-range' }, `layers ${s.start}–${s.end - 1}`),
      ),
    );
  }
  const scale = h('div', { class: 'plan-scale', 'aria-hidden': 'true' }, h('span', {}, '0'), h('span', {}, String(layers)));
  el.replaceChildren(
    h('p', { class: 'plan-model' }, h('code', {}, model.id), ` · ${layers} layers`),
    bar,
    scale,
    h('p', { class: 'note' }, self ? 'This tab’s share is highlighted.' : 'No mesh plan splits this model now: the companion runs every layer itself.'),
  );
}

/** The head's gossiped plan: one segment per stage, labelled with its peer and layers. */
function renderMeshPlan(el: HTMLElement, mesh: MeshJoinState): void {
  if (!('peers' in mesh) || !mesh.plan) return;
  const plan = mesh.plan;
  const segments = meshPlanSegments(plan.stages, mesh.peerId, (id) => `Peer ${short(id)}`);
  const label = `${plan.model}: ${segments.map((s) => `${s.label} runs ${layerRangeText(s)}${s.ready ? '' : ' (loading)'}`).join('; ')}`;
  const bar = h('div', { class: 'plan-bar', role: 'img', 'aria-label': label });
  for (const s of segments) {
    bar.append(
      h(
        'div',
        {
          class: `plan-seg plan-${s.kind}${s.ready ? '' : ' plan-loading'}`,
          style: `flex-grow: ${s.end - s.start}`,
          'data-segment': s.kind,
          'data-peer': s.peerId,
          'data-ready': String(s.ready),
          title: s.peerId,
        },
        h('span', { class: 'plan-seg-label' }, s.label),
        h('span', { class: 'plan-seg-range' }, layerRangeText(s)),
      ),
    );
  }
  const ready = plan.stages.filter((s) => s.ready).length;
  const scale = h('div', { class: 'plan-scale', 'aria-hidden': 'true' }, h('span', {}, '0'), h('span', {}, String(plan.layerCount)));
  el.replaceChildren(
    h(
      'p',
      { class: 'plan-model' },
      h('code', {}, plan.model),
      ` · ${plan.layerCount} layers across ${plan.stages.length} ${plan.stages.length === 1 ? 'peer' : 'peers'}`,
    ),
    bar,
    scale,
    h(
      'p',
      { class: 'note' },
      `${ready} of ${plan.stages.length} stages ready · plan epoch ${plan.epoch}, gossiped by the companion.${segments.some((s) => s.kind === 'self') ? ' This tab’s share is highlighted.' : ''}`,
    ),
  );
}

function renderModels(el: HTMLElement, health: CompanionHealth | null, healthError: string): void {
  if (!health) {
    el.replaceChildren(empty(healthError ? 'The companion did not answer.' : 'Asking the companion…', healthError || undefined));
    return;
  }
  if (!health.models.length) {
    el.replaceChildren(empty('The companion serves no model itself.', 'Tabs attached to it may still serve some; start it with a model to see it here.'));
    return;
  }
  el.replaceChildren(
    h(
      'ul',
      { class: 'dash-models', role: 'list' },
      ...health.models.map((m) =>
        h(
          'li',
          { 'data-model': m.id },
          h('code', {}, m.id),
          h('span', { class: 'dash-model-facts' }, `${m.layers} layers · ${m.backend || 'engine'} · context ${m.contextLength}`),
        ),
      ),
    ),
    h('p', { class: 'note' }, `Companion ${health.version ? `v${health.version} ` : ''}at ${health.url}, up ${duration(health.uptimeS)}.`),
  );
}

function renderPlot(el: HTMLElement, metrics: MetricsStore): void {
  const replies = metrics.replies();
  if (!replies.length) {
    el.replaceChildren(empty('No replies yet.', 'Tokens per second of each reply appear here; send a message in the Playground.'));
    return;
  }
  const { points, ticks, yMax } = throughputPlot(
    replies.map((r) => r.tokensPerSecond),
    PLOT_W,
    PLOT_H,
  );
  const pad = { l: 44, r: 16, t: 12, b: 26 };
  const W = PLOT_W + pad.l + pad.r;
  const H = PLOT_H + pad.t + pad.b;
  const grid = ticks
    .map((t) => {
      const y = pad.t + PLOT_H - (t / yMax) * PLOT_H;
      return `<line x1="${pad.l}" x2="${pad.l + PLOT_W}" y1="${y}" y2="${y}" class="plot-grid"/><text x="${pad.l - 8}" y="${y + 4}" text-anchor="end" class="plot-tick">${fmt(t)}</text>`;
    })
    .join('');
  const path = points.map((p, i) => `${i ? 'L' : 'M'}${(pad.l + p.x).toFixed(1)},${(pad.t + p.y).toFixed(1)}`).join(' ');
  const dots = points
    .map((p) => `<circle cx="${(pad.l + p.x).toFixed(1)}" cy="${(pad.t + p.y).toFixed(1)}" r="4" class="plot-dot" data-value="${p.value.toFixed(2)}"/>`)
    .join('');
  const area = points.length > 1 ? `<path d="${path} L${pad.l + PLOT_W},${pad.t + PLOT_H} L${pad.l},${pad.t + PLOT_H} Z" class="plot-area"/>` : '';
  const label = `Tokens per second of the last ${replies.length} ${replies.length === 1 ? 'reply' : 'replies'}: ${replies.map((r) => r.tokensPerSecond.toFixed(1)).join(', ')}`;
  const chart = svg(
    `<svg viewBox="0 0 ${W} ${H}" class="plot" role="img" aria-label="${label}" preserveAspectRatio="xMidYMid meet">${grid}${area}<path d="${path}" class="plot-line"/>${dots}<text x="${pad.l}" y="${H - 6}" class="plot-tick">older</text><text x="${pad.l + PLOT_W}" y="${H - 6}" text-anchor="end" class="plot-tick">latest</text></svg>`,
  );
  const avg = replies.reduce((a, r) => a + r.tokensPerSecond, 0) / replies.length;
  el.replaceChildren(
    h(
      'p',
      { class: 'plot-summary' },
      h('strong', {}, `${replies.at(-1)!.tokensPerSecond.toFixed(1)} tokens/s`),
      ` last reply · ${avg.toFixed(1)} average over ${replies.length}`,
    ),
    chart,
  );
}

function renderErrors(el: HTMLElement, metrics: MetricsStore): void {
  const list = metrics.errors();
  if (!list.length) {
    el.replaceChildren(empty('No errors.', 'Failed requests from this tab are listed here with what to do about them.'));
    return;
  }
  el.replaceChildren(
    h(
      'ul',
      { class: 'dash-errors', role: 'list' },
      ...list
        .slice(0, 8)
        .map((e) =>
          h(
            'li',
            {},
            h(
              'p',
              { class: 'dash-error-title' },
              h('strong', {}, e.title),
              h('span', { class: 'dash-error-when' }, ` · ${e.where}, ${new Date(e.at).toLocaleTimeString()}`),
            ),
            h('p', { class: 'dash-error-detail' }, e.detail),
          ),
        ),
    ),
  );
}

/** The round trip to a peer, when the mesh layer measured one (a field of newer peer views). */
function rttOf(peer: object): number | undefined {
  const rtt = 'rttMs' in peer ? peer.rttMs : undefined;
  return typeof rtt === 'number' && Number.isFinite(rtt) && rtt >= 0 ? rtt : undefined;
}

function rttText(ms: number | undefined): string {
  if (ms === undefined) return '–';
  if (ms < 1) return '<1 ms';
  return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
}

function short(id: string): string {
  return id.length > 14 ? `${id.slice(0, 6)}…${id.slice(-6)}` : id;
}
function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}
function duration(s: number): string {
  if (s < 90) return `${s} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}
