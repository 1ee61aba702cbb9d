// The app's views and the hash routes that select them. The app routes by hash so that every URL is
// the same document to servers and to the service worker (one cached start page serves them all).

export type ViewId = 'home' | 'playground' | 'dashboard' | 'models';

export interface ViewInfo {
  id: ViewId;
  title: string;
  /** One line under the title: what the view is for. */
  summary: string;
  /** What arrives here next, shown until the view is built. */
  coming: string[];
}

export const VIEWS: readonly ViewInfo[] = [
  {
    id: 'home',
    title: 'Home',
    summary: 'Lend this tab to the mesh, or join one.',
    coming: [
      'One switch to contribute: choose WebGPU or CPU, a memory budget, and a cap on what this tab lends.',
      'Join the public mesh or a named one; create a private mesh and share its invite link or QR code.',
      'What this tab is doing: its role, the layers it holds, the requests it has served.',
    ],
  },
  {
    id: 'playground',
    title: 'Playground',
    summary: 'Chat with a model served by the mesh.',
    coming: [
      'Streaming chat with stop and regenerate, a system prompt and sampling settings.',
      'For every reply: which peers ran which layers, and tokens per second.',
      'A copyable curl and SDK snippet for the OpenAI-compatible API.',
    ],
  },
  {
    id: 'dashboard',
    title: 'Dashboard',
    summary: 'The peers in this mesh and how the model is split across them.',
    coming: ['Peers with their role, backend, layers and round-trip time.', 'The layer plan drawn as a bar, throughput over time, recent errors.'],
  },
  {
    id: 'models',
    title: 'Models',
    summary: 'Pick a model and keep it on this device.',
    coming: [
      'Bundled test models, a curated list of small instruct models, or any GGUF URL.',
      'Download progress with rate and time left, resume after a reload, cache usage and delete.',
    ],
  },
];

export function viewFromHash(hash: string): ViewId {
  const id = hash.replace(/^#\/?/, '').split(/[/?]/)[0];
  return VIEWS.some((v) => v.id === id) ? (id as ViewId) : 'home';
}

export function hashFor(id: ViewId): string {
  return id === 'home' ? '#/' : `#/${id}`;
}
