// While this tab is in a mesh, its head's models are served from this page as a fetch-shaped page
// provider (page-api.ts): the service worker cannot reach libp2p, so it hands /v1 requests for those
// models to this page (api-bridge.ts), which carries them to the head. Any page of the origin, in
// the mesh or not, is then answered by the mesh: same origin, same user.
import { MeshError } from '../protocol/errors.ts';
import type { ModelDescriptor } from '../provider/provider.ts';
import type { MeshJoin } from './mesh-join.ts';
import { MESH_PROVIDER, PROVIDER_PRIORITY, type PageProviders } from './page-api.ts';

export interface MeshPageProviderOptions {
  /** The page's origin: the URL the model list is asked at (the head reads only its path). */
  readonly origin?: string;
  /** How often the head's list is asked again while joined (it also is when the plan changes). */
  readonly refreshMs?: number;
}

/** Keeps the mesh's entry in `providers` true to the head's list; returns the function that stops and withdraws it. */
export function serveMeshFromPage(
  mesh: Pick<MeshJoin, 'state' | 'meshFetch' | 'onChange'>,
  providers: PageProviders,
  options: MeshPageProviderOptions = {},
): () => void {
  const origin = options.origin ?? location.origin;
  let models: ModelDescriptor[] = [];
  let withdraw: (() => void) | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  /** What the head's list depends on; a new value asks again. */
  let asked: string | undefined;
  let running: Promise<void> | undefined;
  let pending = false;
  let stopped = false;

  const fetcher = {
    listModels: async () => models,
    fetch: (request: Request) =>
      mesh.meshFetch(request) ?? Promise.reject(new MeshError('mesh_not_joined', 'this tab has left the mesh; join it again, then retry')),
  };
  const drop = () => {
    withdraw?.();
    withdraw = undefined;
    models = [];
  };
  const refresh = async () => {
    const answer = mesh.meshFetch(new Request(`${origin}/v1/models`));
    if (!answer) return drop();
    try {
      const next = descriptors(await (await answer).json());
      if (stopped || mesh.state().status !== 'joined') return drop(); // left while the head answered
      const same = withdraw && next.length === models.length && next.every((m, i) => JSON.stringify(m) === JSON.stringify(models[i]));
      models = next;
      if (same) return;
      if (withdraw) providers.changed();
      else withdraw = providers.registerFetch(MESH_PROVIDER, fetcher, PROVIDER_PRIORITY.mesh);
    } catch {
      // A head tab out of reach (gone, or about to be declared so): its models stay listed here, so a
      // request for one gets "the head left" or "no link to the head" (503) rather than a search for
      // a companion that does not exist. A companion's mesh falls back to the companion's HTTP API.
      const s = mesh.state();
      const headTab = s.status === 'joined' && (('headIsTab' in s && s.headIsTab) || ('headLeft' in s && s.headLeft !== undefined));
      if (headTab && withdraw) return;
      drop(); // the head is out of reach: the service worker falls back to the companion until it is back
    }
  };
  /** One ask at a time; a change during one asks once more after it. */
  const ask = () => {
    if (running) {
      pending = true;
      return;
    }
    running = refresh().finally(() => {
      running = undefined;
      if (pending) {
        pending = false;
        ask();
      }
    });
  };
  const follow = () => {
    const s = mesh.state();
    if (s.status !== 'joined') {
      clearInterval(timer);
      timer = undefined;
      asked = undefined;
      drop();
      return;
    }
    const key = `${s.meshId}|${s.plan?.model ?? ''}|${s.plan?.epoch ?? ''}`;
    timer ??= setInterval(ask, options.refreshMs ?? 10_000);
    if (key !== asked) {
      asked = key;
      ask();
    }
  };
  const unsubscribe = mesh.onChange(follow);
  follow();
  return () => {
    stopped = true;
    unsubscribe();
    clearInterval(timer);
    drop();
  };
}

/** The model list's entries (OpenAI's shape, as the head answers GET /v1/models). */
function descriptors(body: unknown): ModelDescriptor[] {
  const data = (body as { data?: unknown })?.data;
  if (!Array.isArray(data)) throw new MeshError('mesh_bad_list', "the mesh's head answered GET /v1/models without a model list");
  return data
    .filter((m): m is Record<string, unknown> => typeof m?.id === 'string')
    .map((m) => ({
      id: m.id as string,
      ownedBy: typeof m.owned_by === 'string' ? m.owned_by : 'mesh',
      contextLength: typeof m.context_length === 'number' ? m.context_length : 0,
      ...(typeof m.created === 'number' ? { created: m.created } : {}),
    }));
}
