// When the head counts a stage ready. A stage-ready report says what a peer held when it sent it:
// one for a plan from before the peer's range last moved may be stale (the peer may have loaded the
// other range since), and a tab that reloads under its old peer id held its layers on the previous
// page. Routing a session to either got a refused hello, a strike and a replan without the peer:
// seconds of the head answering alone (bench:mesh's cold3_s, where the same profiles join twice).
import { describe, expect, it } from 'vitest';
import { fakeMeshNode as fakeNode, pid, serverState } from '../testing/fake-mesh-node.ts';
import { PipelineCoordinator } from './coordinator.ts';

const [A, B, C] = ['A', 'B', 'C'].map(pid);
/** Four layers of 100 bytes; budgets of 250 hold two. */
const memory = { layerCount: 4, layerBytes: [100, 100, 100, 100], layerExpertBytes: [0, 0, 0, 0], headBytes: 0, tailBytes: 0, sharedBytes: 0 };

const stages = (c: PipelineCoordinator) => c.currentPlan()?.stages.map((s) => `${s.peerId.slice(8, 9)}${s.layers.start}-${s.layers.end - 1}`);

describe('a stage counts as ready only for what it holds now', () => {
  it('a report from before the plan moved its range, then moved it back, is ignored until it reports again', () => {
    const mesh = fakeNode();
    const coordinator = new PipelineCoordinator({ node: mesh.node, model: { id: 'm', memory }, republishMs: 60_000 });
    coordinator.start();
    try {
      mesh.member(A, serverState(A, 1));
      mesh.member(B, serverState(B, 1));
      expect(stages(coordinator)).toEqual(['A0-1', 'B2-3']);
      const first = coordinator.currentPlan()!.epoch;
      mesh.ready(A, first, 0, 2);
      mesh.ready(B, first, 2, 4);
      expect(coordinator.route()).toBeDefined();

      // C joins and takes a layer of A's; A hears that plan and starts loading layer 0 alone.
      mesh.member(C, serverState(C, 1));
      expect(stages(coordinator)).toEqual(['A0-0', 'C1-1', 'B2-3']);
      // C leaves before anyone loaded: A gets 0-1 back. A's report of 0-1 predates the move.
      mesh.member(C, serverState(C, 1), []);
      expect(stages(coordinator)).toEqual(['A0-1', 'B2-3']);
      const back = coordinator.currentPlan()!.epoch;
      expect(back).toBeGreaterThan(first);
      expect(coordinator.route()).toBeUndefined();
      // A late copy of the old report changes nothing; A's report for this plan does (B's range
      // never moved: its first report still stands).
      mesh.ready(A, first, 0, 2);
      expect(coordinator.route()).toBeUndefined();
      mesh.ready(A, back, 0, 2);
      expect(coordinator.route()?.plan.epoch).toBe(back);
    } finally {
      coordinator.stop();
    }
  });

  it('a report for an older plan that arrives after a newer one is ignored', () => {
    const mesh = fakeNode();
    const coordinator = new PipelineCoordinator({ node: mesh.node, model: { id: 'm', memory }, republishMs: 60_000 });
    coordinator.start();
    try {
      mesh.member(A, serverState(A, 1));
      mesh.member(B, serverState(B, 1));
      const first = coordinator.currentPlan()!.epoch;
      mesh.ready(A, first, 0, 2);
      mesh.ready(B, first, 2, 4);
      mesh.member(C, serverState(C, 1));
      expect(stages(coordinator)).toEqual(['A0-0', 'C1-1', 'B2-3']);
      const next = coordinator.currentPlan()!.epoch;
      mesh.ready(A, next, 0, 1);
      mesh.ready(C, next, 1, 2);
      expect(coordinator.route()?.plan.epoch).toBe(next);
      // A's report for the first plan, delivered after its report for this one.
      mesh.ready(A, first, 0, 2);
      expect(coordinator.route()?.plan.epoch).toBe(next);
    } finally {
      coordinator.stop();
    }
  });

  it('a tab that joins again under its old peer id is not ready from its previous page', () => {
    const mesh = fakeNode();
    const coordinator = new PipelineCoordinator({ node: mesh.node, model: { id: 'm', memory }, republishMs: 60_000 });
    coordinator.start();
    try {
      mesh.member(A, serverState(A, 1));
      mesh.member(B, serverState(B, 1));
      const epoch = coordinator.currentPlan()!.epoch;
      mesh.ready(A, epoch, 0, 2);
      mesh.ready(B, epoch, 2, 4);
      // Their states name the layers held, as states gossiped after loading do.
      mesh.member(A, serverState(A, 2, { start: 0, end: 2 }));
      mesh.member(B, serverState(B, 2, { start: 2, end: 4 }));
      expect(coordinator.route()).toBeDefined();

      // A's page reloads: the new page joins before the head saw the old links go, under the same
      // plan (same stages, same epoch); its member entry still holds the old page's state.
      mesh.join(A);
      expect(stages(coordinator)).toEqual(['A0-1', 'B2-3']);
      expect(coordinator.route()).toBeUndefined();
      // The new page's first state holds nothing yet; once loaded, its state (or its report) says so.
      mesh.member(A, serverState(A, 3));
      expect(coordinator.route()).toBeUndefined();
      mesh.member(A, serverState(A, 4, { start: 0, end: 2 }));
      expect(coordinator.route()).toBeDefined();
    } finally {
      coordinator.stop();
    }
  });
});
