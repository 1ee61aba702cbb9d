// Plain words for what this tab is doing in the mesh, from its join state: the Join card and the
// Contribute card both say it, and tests check the sentences. Pure (no DOM), so it is unit-tested.
import type { MeshJoinState } from '../client/mesh-join.ts';
import type { StageState } from '../mesh/pipeline/stage-server.ts';
import type { StageBackendChoice } from '../mesh/pipeline/stage-runner.ts';

/** `12D3Ko…Yz4q`: enough to tell peers apart on screen; the full id is in the title attribute. */
export function shortPeerId(peerId: string): string {
  return peerId.length <= 12 ? peerId : `${peerId.slice(0, 6)}…${peerId.slice(-4)}`;
}

/** Layer ranges are half-open (start … end-1); people read inclusive ranges. */
export function layerRangeText(range: { start: number; end: number }): string {
  return range.end - range.start <= 1 ? `layer ${range.start}` : `layers ${range.start}–${range.end - 1}`;
}

/** What this tab's pipeline stage is doing, e.g. "serving layers 2–3 of tiny-llama-4l-f32". */
export function stageText(stage: StageState | undefined): string {
  if (!stage || stage.status === 'idle' || !stage.layers || !stage.model) return 'waiting for the mesh to plan layers for this tab';
  const what = `${layerRangeText(stage.layers)} of ${stage.model}`;
  switch (stage.status) {
    case 'loading':
      return `loading ${what}`;
    case 'ready':
      return `serving ${what}`;
    case 'failed':
      return `could not load ${what}${stage.error ? ` (${stage.error})` : ''}`;
  }
  return what;
}

/** What the loaded stage runs on, e.g. "WebGPU (SwiftShader) in a worker, f32 KV cache". */
export function runsOnText(stage: StageState | undefined): string {
  return stage?.backendDetail ?? 'nothing yet: no layers loaded';
}

/** Where a server tab's layers will run, for the Join card's terms: the backend asked for, in words. */
export function lendBackendText(choice: StageBackendChoice | undefined): string {
  switch (choice) {
    case 'webgpu':
      return 'on this device’s GPU (WebGPU)';
    case 'wasm':
      return 'on this device’s CPU (WebAssembly)';
    default:
      return 'on this device’s GPU (WebGPU) when it has one, else on its CPU (WebAssembly)';
  }
}

/** The work this tab's stage has done, e.g. "42 activation frames in 3 s of compute, 1 session open". */
export function servedText(stage: StageState | undefined): string {
  if (!stage || stage.frames === 0) return stage?.status === 'ready' ? 'nothing yet: no request has reached this tab’s layers' : 'nothing yet';
  const compute = stage.computeMs >= 1000 ? `${(stage.computeMs / 1000).toFixed(1)} s` : `${Math.round(stage.computeMs)} ms`;
  const open = stage.sessions === 1 ? '1 request in progress' : stage.sessions > 1 ? `${stage.sessions} requests in progress` : 'none in progress';
  return `${stage.frames} activation ${stage.frames === 1 ? 'frame' : 'frames'} in ${compute} of compute; ${open}`;
}

export type ContributeStateKind = 'paused' | 'idle' | 'joining' | 'serving' | 'client' | 'failed';

/** The Contribute card's status line: honest about whether this tab lends anything right now. */
export function contributeStatus(state: MeshJoinState, paused: boolean): { kind: ContributeStateKind; text: string } {
  switch (state.status) {
    case 'none':
      return paused
        ? { kind: 'paused', text: 'Paused. This tab lends nothing.' }
        : {
            kind: 'idle',
            text: 'Not in a mesh: join one in the Mesh card (this computer’s private mesh, or an invite link) and this tab will lend with these settings.',
          };
    case 'invited':
      return paused
        ? { kind: 'paused', text: 'Paused. This tab lends nothing; start contributing to join the mesh of your invite link.' }
        : { kind: 'idle', text: 'Not joined yet: press Join in the Mesh card, or start contributing.' };
    case 'failed':
      return { kind: 'failed', text: `Joining the mesh failed: ${state.error ?? 'no reason given'}` };
    case 'starting':
      return { kind: 'joining', text: 'Joining the mesh…' };
    case 'stopped':
      return { kind: 'paused', text: 'Left the mesh. This tab lends nothing.' };
    case 'joined':
      if (state.role === 'client') return { kind: 'client', text: 'Joined as a client: this tab sends requests and lends no compute.' };
      return { kind: 'serving', text: `In the mesh: ${stageText(state.stage)}.` };
  }
}

export type MeshPillState = 'offline' | 'idle' | 'pending' | 'active' | 'failed';

/** The header pill: one short phrase for what this tab is doing in the mesh, following its state. */
export function meshPill(state: MeshJoinState, online: boolean): { state: MeshPillState; text: string } {
  if (!online) return { state: 'offline', text: 'Offline' };
  switch (state.status) {
    case 'none':
    case 'invited':
    case 'stopped':
      return { state: 'idle', text: 'Not in a mesh yet' };
    case 'failed':
      return { state: 'failed', text: 'Could not join the mesh' };
    case 'starting':
      return { state: 'pending', text: 'Joining the mesh…' };
    case 'joined': {
      const peers = `${state.peers.length} ${state.peers.length === 1 ? 'peer' : 'peers'}`;
      const stage = state.stage;
      if (stage?.layers && stage.status === 'ready') return { state: 'active', text: `Serving ${layerRangeText(stage.layers)} · ${peers}` };
      if (stage?.layers && stage.status === 'loading') return { state: 'pending', text: `Loading ${layerRangeText(stage.layers)} · ${peers}` };
      return { state: 'active', text: `${state.role === 'client' ? 'Joined as a client' : 'Joined'} · ${peers}` };
    }
  }
}

/** The joined card's line for a tab that joined by itself (a link's `auto=1`): plain, beside Leave. */
export function autoJoinedText(role: 'server' | 'client'): string {
  return role === 'server'
    ? 'This tab joined by itself: the link it was opened with said auto=1. It lends compute to this mesh until you leave.'
    : 'This tab joined by itself: the link it was opened with said auto=1. Leave if you did not mean to join.';
}

/** Who heads an open mesh as far as this tab can tell: the key its link named, or nobody authenticated. */
export function openHeadText(open: { readonly head?: string } | undefined): string | undefined {
  if (!open) return undefined;
  return open.head
    ? `Its head is the peer whose key the link named (${open.head.slice(0, 8)}…); plans from anyone else are ignored.`
    : 'The link names no head key: whoever announces this name on the relay can head the mesh (unauthenticated head). Ask for a link with head=.';
}
