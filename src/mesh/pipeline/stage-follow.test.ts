// A stage server following plans that move its range and move it back while it loads: the stage it
// held all along stays (no reload, no moment without it), and it says ready for each plan it follows.
import { expect, it } from 'vitest';
import type { GossipMessage } from '../../protocol/mesh-messages.ts';
import type { LayerPlan, LayerRange } from '../../protocol/mesh-plan.ts';
import type { MeshNode } from '../net/mesh-node.ts';
import { StageServer } from './stage-server.ts';
import type { RunningStage, StageRunner } from './stage-runner.ts';

const self = '12D3KooWself'.padEnd(52, 'x');
const other = '12D3KooWother'.padEnd(52, 'x');

const plan = (epoch: number, mine: LayerRange): LayerPlan => ({
  model: 'm',
  layerCount: 4,
  epoch,
  mode: 'pipeline',
  stages: [
    { peerId: self, layers: mine, shard: { kind: 'dense' } },
    { peerId: other, layers: { start: mine.end, end: 4 }, shard: { kind: 'dense' } },
  ],
  head: self,
  tail: other,
  excluded: [],
});

it('a plan that moves the range back while the other range loads keeps the stage it holds', async () => {
  const published: GossipMessage[] = [];
  const node = {
    selfPeerId: self,
    handleForMembers: async () => {},
    addGossipListener: () => () => {},
    publish: async (m: GossipMessage) => void published.push(m),
    publishState: async () => {},
  } as unknown as MeshNode;
  const opened: string[] = [];
  const closed: string[] = [];
  const pending: Array<() => void> = [];
  const runner: StageRunner = {
    open: (model, layers) =>
      new Promise<RunningStage>((resolve) => {
        const name = `${layers.start}-${layers.end - 1}`;
        opened.push(name);
        pending.push(() =>
          resolve({
            model,
            layers,
            backend: 'wasm',
            detail: 'test',
            nEmbd: 4,
            maxPositions: 16,
            createSession: () => Promise.reject(new Error('no sessions here')),
            close: async () => void closed.push(name),
          }),
        );
      }),
  };
  const server = new StageServer({ node, runner });
  await server.start();
  const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

  server.follow(plan(0, { start: 0, end: 2 }));
  pending.shift()!();
  await settle();
  expect(server.held()[0].layers).toEqual({ start: 0, end: 2 });
  // Plan 1 moves the range; plan 2 moves it back before that load is done.
  server.follow(plan(1, { start: 0, end: 1 }));
  server.follow(plan(2, { start: 0, end: 2 }));
  expect(server.held()[0].layers).toEqual({ start: 0, end: 2 });
  pending.shift()!();
  await settle();
  await settle();
  expect(opened).toEqual(['0-1', '0-0']);
  // The range held all along stays; the one just loaded is closed, and nothing is loaded again.
  expect(server.held()[0].layers).toEqual({ start: 0, end: 2 });
  expect(closed).toEqual(['0-0']);
  expect(pending).toHaveLength(0);
  expect(server.state().status).toBe('ready');
  const ready = published.filter((m) => m.type === 'stage-ready');
  expect(ready.map((m) => m.type === 'stage-ready' && `${m.planEpoch}:${m.layers.start}-${m.layers.end - 1}`)).toEqual(['0:0-1', '2:0-1']);
  server.stop();
});
