// The companion's API runs on strangers' peers only when asked (--serve-api-on-open-mesh), and its
// answers then say so in served-by, in the header and in the body.
import { describe, expect, it } from 'vitest';
import { meshInfo, servedByHeader } from '../api/serve.ts';
import type { Generation, ModelProvider } from '../provider/provider.ts';
import { apiMesh } from './companion.ts';
import { defaultConfig, parseCompanionArgs } from './config.ts';
import { onOpenMesh } from './open-mesh-provider.ts';

describe('--serve-api-on-open-mesh', () => {
  it('is off by default: the private mesh runs the API even when an open mesh is headed', () => {
    const [priv, open] = [{ name: 'private' }, { name: 'open' }];
    const parsed = parseCompanionArgs(['--mesh-name', 'lab'], {}, '/tmp');
    if (parsed.kind !== 'config') throw new Error('no config');
    expect(parsed.config.serveApiOnOpenMesh).toBe(false);
    expect(apiMesh(parsed.config, priv, open)).toBe(priv);
    const asked = parseCompanionArgs(['--mesh-name', 'lab', '--serve-api-on-open-mesh'], {}, '/tmp');
    if (asked.kind !== 'config') throw new Error('no config');
    expect(apiMesh(asked.config, priv, open)).toBe(open);
    expect(apiMesh({ ...defaultConfig('/tmp'), serveApiOnOpenMesh: true }, priv, undefined)).toBe(priv);
  });

  it('marks every served-by entry of an answer computed on the open mesh', async () => {
    const generation: Generation = {
      servedBy: [
        { peer: 'p1', layers: [0, 2] },
        { peer: 'p2', layers: [2, 4] },
      ],
      tokens: (async function* () {})(),
    };
    const inner = { listModels: () => [], modelText: async () => ({}) as never, generate: async () => generation } as unknown as ModelProvider;
    const g = await onOpenMesh(inner).generate({} as never);
    expect(servedByHeader(g.servedBy)).toEqual({ 'x-mesh-served-by': 'p1;layers=0-2;mesh=open, p2;layers=2-4;mesh=open' });
    expect(meshInfo(g.servedBy).served_by[0]).toEqual({ peer: 'p1', layers: [0, 2], mesh: 'open' });
    expect(g.tokens).toBe(generation.tokens);
  });
});
