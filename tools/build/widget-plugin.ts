// Vite plugin: builds src/widget/widget.ts into dist/widget.js, one self-contained classic script (a
// host page loads it with <script src>, so it may not import chunks: each would need its own CORP
// header and would load from the host page's origin rules). Emitted into the app's own bundle, so the
// service worker's precache list (written after every file) sees it like any other file.
import { join } from 'node:path';
import { build, type Plugin, type Rollup } from 'vite';

export const WIDGET_SOURCE = 'src/widget/widget.ts';
export const WIDGET_FILE = 'widget.js';

export function widgetPlugin(): Plugin {
  let root = '';
  return {
    name: 'mesh:widget',
    apply: 'build',
    configResolved(config) {
      root = config.root;
    },
    async generateBundle() {
      this.emitFile({ type: 'asset', fileName: WIDGET_FILE, source: await buildWidget(root) });
    },
  };
}

/** The widget's code, minified, as one IIFE. */
export async function buildWidget(root: string): Promise<string> {
  const result = await build({
    configFile: false,
    root,
    logLevel: 'warn',
    publicDir: false,
    build: {
      write: false,
      target: 'es2020',
      minify: true,
      sourcemap: false,
      lib: { entry: join(root, WIDGET_SOURCE), formats: ['iife'], name: 'meshLlmWidget', fileName: () => WIDGET_FILE },
    },
  });
  const outputs = (Array.isArray(result) ? result : [result]) as Rollup.RollupOutput[];
  const chunk = outputs.flatMap((o) => o.output).find((o): o is Rollup.OutputChunk => o.type === 'chunk' && o.isEntry);
  if (!chunk) throw new Error(`building ${WIDGET_SOURCE} produced no script`);
  return chunk.code;
}
