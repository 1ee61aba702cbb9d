// The companion's API pipeline on an open (public or named) mesh, which only --serve-api-on-open-mesh
// allows: its peers are strangers who see every prompt, so each answer's served-by says where it ran
// (`;mesh=open` in x-mesh-served-by, `mesh: "open"` in the body's served_by).
import type { ModelProvider, ServedBy } from '../provider/provider.ts';

const open = (servedBy: readonly ServedBy[]): ServedBy[] => servedBy.map((s) => ({ ...s, mesh: 'open' }));

export function onOpenMesh(inner: ModelProvider): ModelProvider {
  const scored = inner.promptLogprobs?.bind(inner);
  const logprobs = inner.supportsLogprobs?.bind(inner);
  return {
    listModels: () => inner.listModels(),
    modelText: (model) => inner.modelText(model),
    generate: async (request) => {
      const g = await inner.generate(request);
      // Kept as it is (its counts may be live): only servedBy is replaced.
      return Object.assign(g, { servedBy: open(g.servedBy) });
    },
    ...(logprobs ? { supportsLogprobs: logprobs } : {}),
    ...(scored
      ? {
          promptLogprobs: async (request) => {
            const r = await scored(request);
            return { ...r, servedBy: open(r.servedBy) };
          },
        }
      : {}),
  };
}
