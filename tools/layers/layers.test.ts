// The import layering holds for the whole tree, with no exceptions list; and the checker itself
// catches each kind of wrong import in a small synthetic tree, naming the file.
import { describe, expect, it } from 'vitest';
import { checkLayers, describeViolation, readTree, repositoryRoot } from './layers.ts';

describe('layering', () => {
  it('src/ and workers/ import only downwards, and production never imports test code', () => {
    const tree = readTree(repositoryRoot);
    expect(tree.size).toBeGreaterThan(300);
    expect(checkLayers(tree).map(describeViolation)).toEqual([]);
  });

  it('names an upward import, a sibling import, a type-only import and an import of test code', () => {
    const tree = new Map<string, string>([
      ['src/engine/engine.ts', "import { x } from '../api/handler.ts';"],
      ['src/mesh/node.ts', "import type { Route } from '../api/routes.ts';"],
      ['src/api/handler.ts', "export { y } from '../mesh/testing/fake.ts';\nconst w = new URL('../../workers/w.ts', import.meta.url);"],
      ['src/ui/view.ts', "const m = await import('../companion/config.ts');"],
      ['src/client/join.ts', "import '../../tools/models/registry.ts';"],
      ['src/nowhere/x.ts', ''],
      ['src/api/handler.test.ts', "import { c } from '../companion/testing/companion.ts';"],
      ['src/companion/server.ts', "import { h } from '../api/handler.ts';"],
    ]);
    expect(checkLayers(tree).map(describeViolation)).toEqual([
      'src/engine/engine.ts imports src/api/handler.ts: engine may not import api (imports flow one way: see LAYER_ROWS)',
      'src/mesh/node.ts imports src/api/routes.ts: mesh may not import api (imports flow one way: see LAYER_ROWS)',
      'src/api/handler.ts imports src/mesh/testing/fake.ts: production code imports test code',
      'src/ui/view.ts imports src/companion/config.ts: ui may not import companion (imports flow one way: see LAYER_ROWS)',
      'src/client/join.ts imports tools/models/registry.ts: production code imports from outside src/ and workers/',
      'src/nowhere/x.ts: src/nowhere/ is not a layer: add it to LAYER_ROWS in tools/layers/layers.ts',
    ]);
  });
});
