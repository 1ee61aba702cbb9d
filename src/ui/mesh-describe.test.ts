import { describe, expect, it } from 'vitest';
import type { MeshJoinState } from '../client/mesh-join.ts';
import {
  autoJoinedText,
  contributeStatus,
  layerRangeText,
  lendBackendText,
  openHeadText,
  runsOnText,
  meshPill,
  servedText,
  shortPeerId,
  stageText,
} from './mesh-describe.ts';

const joined = (stage?: object): MeshJoinState =>
  ({
    status: 'joined',
    peerId: '12D3KooWabcdefghijk',
    nostrPubkey: 'ab'.repeat(32),
    meshId: 'm',
    role: 'server',
    backend: 'wasm',
    multiaddrs: [],
    peers: [],
    refused: [],
    signalsDropped: {},
    headIsTab: false,
    linkTypesSeen: [],
    ...(stage ? { stage } : {}),
  }) as MeshJoinState;

const stage = (status: 'idle' | 'loading' | 'ready' | 'failed', start = 2, end = 4) => ({
  status,
  model: 'tiny-llama-4l-f32',
  layers: { start, end },
  sessions: 0,
  frames: 0,
  computeMs: 0,
  forwarded: 0,
});

describe('mesh-describe', () => {
  it('shortens peer ids but keeps short ones whole', () => {
    expect(shortPeerId('12D3KooWQaZLMNopqrstuvwxyz4q')).toBe('12D3Ko…yz4q');
    expect(shortPeerId('abc')).toBe('abc');
  });

  it('says what work the stage has served, in frames, compute time and open requests', () => {
    expect(servedText(undefined)).toBe('nothing yet');
    expect(servedText(stage('ready'))).toBe('nothing yet: no request has reached this tab’s layers');
    expect(servedText({ ...stage('ready'), frames: 1, computeMs: 12.4, sessions: 1 })).toBe('1 activation frame in 12 ms of compute; 1 request in progress');
    expect(servedText({ ...stage('ready'), frames: 42, computeMs: 3210, sessions: 0 })).toBe('42 activation frames in 3.2 s of compute; none in progress');
  });

  it('reads half-open layer ranges as inclusive ones', () => {
    expect(layerRangeText({ start: 2, end: 4 })).toBe('layers 2–3');
    expect(layerRangeText({ start: 0, end: 1 })).toBe('layer 0');
  });

  it('formats byte budgets', () => {});

  it('says where a server tab’s layers will run, as asked', () => {
    expect(lendBackendText('webgpu')).toBe('on this device’s GPU (WebGPU)');
    expect(lendBackendText('wasm')).toBe('on this device’s CPU (WebAssembly)');
    expect(lendBackendText('auto')).toMatch(/GPU \(WebGPU\) when it has one, else on its CPU/);
  });

  it('says what the stage does', () => {
    expect(stageText(undefined)).toMatch(/waiting/);
    expect(stageText(stage('loading'))).toBe('loading layers 2–3 of tiny-llama-4l-f32');
    expect(stageText(stage('ready', 0, 2))).toBe('serving layers 0–1 of tiny-llama-4l-f32');
    expect(runsOnText({ ...stage('ready', 0, 2), backend: 'webgpu', backendDetail: 'WebGPU (SwiftShader) in a worker, f32 KV cache' })).toBe(
      'WebGPU (SwiftShader) in a worker, f32 KV cache',
    );
    expect(runsOnText(stage('loading'))).toMatch(/no layers loaded/);
    expect(stageText({ ...stage('failed'), error: 'no WASM' })).toBe('could not load layers 2–3 of tiny-llama-4l-f32 (no WASM)');
  });

  it('is honest in the Contribute card about what the tab lends', () => {
    expect(contributeStatus({ status: 'none' }, true).kind).toBe('paused');
    expect(contributeStatus({ status: 'none' }, false)).toMatchObject({
      kind: 'idle',
      text: expect.stringMatching(/not in a mesh: join one in the Mesh card/i),
    });
    expect(contributeStatus({ status: 'invited', role: 'server' }, false).kind).toBe('idle');
    expect(contributeStatus({ status: 'failed', error: 'relay down' }, false)).toMatchObject({ kind: 'failed', text: expect.stringContaining('relay down') });
    expect(contributeStatus(joined(stage('ready')), false)).toEqual({ kind: 'serving', text: 'In the mesh: serving layers 2–3 of tiny-llama-4l-f32.' });
    expect(contributeStatus({ ...joined(), role: 'client' } as MeshJoinState, false).kind).toBe('client');
  });

  it('words the header pill from the join state: offline first, then not joined, joining, serving a range', () => {
    expect(meshPill(joined(stage('ready')), false)).toEqual({ state: 'offline', text: 'Offline' });
    expect(meshPill({ status: 'none' }, true)).toEqual({ state: 'idle', text: 'Not in a mesh yet' });
    expect(meshPill({ status: 'failed', error: 'x' }, true).state).toBe('failed');
    expect(meshPill(joined(stage('ready', 2, 4)), true)).toEqual({ state: 'active', text: 'Serving layers 2–3 · 0 peers' });
    expect(meshPill(joined(stage('loading', 0, 1)), true)).toEqual({ state: 'pending', text: 'Loading layer 0 · 0 peers' });
    expect(meshPill(joined(), true).text).toBe('Joined · 0 peers');
  });
});

describe('trust lines', () => {
  it('say plainly that a tab joined by itself, and whether an open mesh’s head is authenticated', () => {
    expect(autoJoinedText('server')).toMatch(/joined by itself.*auto=1.*lends compute/);
    expect(autoJoinedText('client')).toMatch(/joined by itself.*Leave/);
    expect(openHeadText(undefined)).toBeUndefined();
    expect(openHeadText({})).toMatch(/unauthenticated head/);
    expect(openHeadText({ head: 'ab'.repeat(32) })).toMatch(/^Its head is the peer whose key the link named \(abababab…\)/);
  });
});
