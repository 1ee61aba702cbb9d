// The mesh's entry among the page's providers follows the join: registered with the head's list,
// asked again when the plan changes, withdrawn on leave or when the head is out of reach.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { MeshJoin, MeshJoinState } from './mesh-join.ts';
import { serveMeshFromPage } from './mesh-page-provider.ts';
import { PageProviders } from './page-api.ts';
import { MeshError } from '../protocol/errors.ts';

const ORIGIN = 'http://127.0.0.1:8080';
const joined = (epoch: number): MeshJoinState => ({ status: 'joined', meshId: 'mesh-1', plan: { model: 'm', epoch } }) as unknown as MeshJoinState;

function fakeMesh() {
  let state: MeshJoinState = { status: 'none' };
  let listeners: (() => void)[] = [];
  let models = ['m'];
  let reachable = true;
  let headLeft = false;
  const asked: string[] = [];
  const mesh: Pick<MeshJoin, 'state' | 'meshFetch' | 'onChange'> = {
    state: () => state,
    onChange: (l) => {
      listeners.push(l);
      return () => {
        listeners = listeners.filter((x) => x !== l);
      };
    },
    meshFetch: (r) => {
      if (state.status !== 'joined') return undefined;
      asked.push(`${r.method} ${new URL(r.url).pathname}`);
      if (headLeft) return Promise.reject(new MeshError('mesh_head_left', "the mesh's head left"));
      if (!reachable) return Promise.reject(new Error('no link to the head'));
      return Promise.resolve(
        new URL(r.url).pathname === '/v1/models'
          ? Response.json({ object: 'list', data: models.map((id) => ({ id, object: 'model', created: 1, owned_by: 'companion', context_length: 512 })) })
          : new Response('from head'),
      );
    },
  };
  return {
    mesh,
    asked,
    set: (s: MeshJoinState) => {
      state = s;
      for (const l of listeners) l();
    },
    serve: (ids: string[]) => {
      models = ids;
    },
    down: () => {
      reachable = false;
    },
    headLeaves: () => {
      headLeft = true;
      state = { ...(state as object), headLeft: "the mesh's head left" } as unknown as MeshJoinState;
      for (const l of listeners) l();
    },
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

afterEach(() => vi.useRealTimers());

describe('serveMeshFromPage', () => {
  it("serves the head's models while joined, asks again on a new plan, and withdraws on leave", async () => {
    const f = fakeMesh();
    const providers = new PageProviders();
    serveMeshFromPage(f.mesh, providers, { origin: ORIGIN, refreshMs: 60_000 });
    expect(await providers.served()).toEqual([]);
    f.set(joined(1));
    await settle();
    expect(await providers.served()).toEqual([{ id: 'm', priority: 200, from: 'mesh' }]);
    f.set(joined(1)); // peers changed, not the plan: no new ask
    f.serve(['m', 'n']);
    f.set(joined(2));
    await settle();
    expect(f.asked).toEqual(['GET /v1/models', 'GET /v1/models']);
    expect((await providers.served()).map((m) => m.id)).toEqual(['m', 'n']);
    const res = await providers.serve(new Request(`${ORIGIN}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'n', messages: [] }) }));
    expect(await res.text()).toBe('from head');
    f.set({ status: 'none' });
    expect(providers.size).toBe(0);
  });

  it('asks every refreshMs while joined, withdraws while the head is out of reach, and stops', async () => {
    vi.useFakeTimers();
    const f = fakeMesh();
    const providers = new PageProviders();
    const stop = serveMeshFromPage(f.mesh, providers, { origin: ORIGIN, refreshMs: 10_000 });
    f.set(joined(1));
    await vi.advanceTimersByTimeAsync(0);
    expect(providers.size).toBe(1);
    f.down();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(f.asked).toHaveLength(2);
    expect(providers.size).toBe(0);
    stop();
    await vi.advanceTimersByTimeAsync(30_000);
    expect(f.asked).toHaveLength(2);
  });

  it("keeps a head tab's models listed once it left, so their requests say the head left (503 mesh_head_left)", async () => {
    const f = fakeMesh();
    const providers = new PageProviders();
    serveMeshFromPage(f.mesh, providers, { origin: ORIGIN, refreshMs: 20 });
    f.set(joined(1));
    await settle();
    f.headLeaves();
    const asks = f.asked.length;
    await new Promise((resolve) => setTimeout(resolve, 100)); // the list is asked again (and fails) meanwhile
    expect(f.asked.length).toBeGreaterThan(asks);
    expect((await providers.served()).map((m) => m.id)).toEqual(['m']);
    const res = await providers.serve(new Request(`${ORIGIN}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'm', messages: [] }) }));
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string; message: string } }).error).toMatchObject({
      code: 'mesh_head_left',
      message: expect.stringMatching(/head left/),
    });
  });

  it("keeps a head tab's models listed while it is out of reach, before it is declared gone", async () => {
    const f = fakeMesh();
    const providers = new PageProviders();
    serveMeshFromPage(f.mesh, providers, { origin: ORIGIN, refreshMs: 20 });
    f.set({ ...(joined(1) as object), headIsTab: true } as unknown as MeshJoinState);
    await settle();
    f.down();
    const asks = f.asked.length;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(f.asked.length).toBeGreaterThan(asks);
    expect((await providers.served()).map((m) => m.id)).toEqual(['m']);
    const res = await providers.serve(new Request(`${ORIGIN}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'm', messages: [] }) }));
    expect(res.status).toBe(503);
  });
});
