// The WASM kernels load and compute in Chromium through Vite (kernels*.wasm as assets), and agree
// with the reference kernels there as they do in Node; the relaxed-SIMD build is the plain one's bit for bit.
import { expect, test } from '@playwright/test';
import { createServer, type ViteDevServer } from 'vite';

const servers: ViteDevServer[] = [];
let base: string; // cross-origin isolated
let plainBase: string; // not isolated: no SharedArrayBuffer

async function serve(headers: Record<string, string>): Promise<string> {
  const server = await createServer({
    configFile: false,
    root: new URL('..', import.meta.url).pathname,
    logLevel: 'error',
    server: { host: '127.0.0.1', port: 0, hmr: false, headers },
  });
  servers.push(server);
  await server.listen();
  const address = server.httpServer!.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

test.beforeAll(async () => {
  base = await serve({ 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' });
  plainBase = await serve({});
});

test.afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

test('matmul of every weight type matches the reference in the browser', async ({ page }) => {
  await page.goto(`${base}/playwright/support/wasm-kernels.html`);
  const result = await page.evaluate(async () => {
    const { createWasmKernels } = await import('/src/kernels/wasm/index.ts' as string);
    const { referenceKernels } = await import('/src/kernels/reference/index.ts' as string);
    const { quantizedWeight, randomArray } = await import('/src/kernels/testing/data.ts' as string);
    const wasm = await createWasmKernels();
    const worst: Record<string, number> = {};
    for (const type of [0, 1, 30, 8, 2, 6, 12, 13, 14]) {
      const rows = 9,
        cols = 512,
        n = 5;
      const w = quantizedWeight('w', type, rows, cols, randomArray(type + 1, rows * cols));
      const x = randomArray(type + 2, n * cols);
      const a = new Float32Array(n * rows),
        b = new Float32Array(n * rows);
      referenceKernels.matmul(a, x, w, n);
      wasm.matmul(b, x, w, n);
      worst[type] = Math.max(...a.map((v: number, i: number) => Math.abs(v - b[i]) / (Math.abs(v) + 1)));
    }
    return { worst, isolated: crossOriginIsolated };
  });
  expect(Object.keys(result.worst)).toHaveLength(9);
  for (const [type, err] of Object.entries(result.worst)) expect(err, `type ${type}`).toBeLessThan(1e-4);
  expect(result.isolated).toBe(true);
});

test('on a cross-origin isolated page, matmul runs on worker threads with the same results', async ({ page }) => {
  await page.goto(`${base}/playwright/support/wasm-kernels.html`);
  const result = await page.evaluate(async () => {
    const { createWasmKernels } = await import('/src/kernels/wasm/index.ts' as string);
    const { quantizedWeight, randomArray } = await import('/src/kernels/testing/data.ts' as string);
    const single = await createWasmKernels();
    const threaded = await createWasmKernels({ threads: 2 });
    const same: boolean[] = [];
    for (const type of [1, 8, 12]) {
      const rows = 517,
        cols = 512,
        n = 3;
      const w = quantizedWeight('w', type, rows, cols, randomArray(type, rows * cols));
      const x = randomArray(type + 9, n * cols);
      const a = new Float32Array(n * rows),
        b = new Float32Array(n * rows);
      single.matmul(a, x, w, n);
      threaded.matmul(b, x, w, n);
      same.push(a.every((v: number, i: number) => v === b[i]));
    }
    const threads = threaded.threads;
    threaded.dispose();
    return { same, threads };
  });
  expect(result.threads).toBe(2);
  expect(result.same).toEqual([true, true, true]);
});

test('on a page that is not cross-origin isolated, asking for threads gives working single-threaded kernels', async ({ page }) => {
  await page.goto(`${plainBase}/playwright/support/wasm-kernels.html`);
  const result = await page.evaluate(async () => {
    const { createWasmKernels } = await import('/src/kernels/wasm/index.ts' as string);
    const { referenceKernels } = await import('/src/kernels/reference/index.ts' as string);
    const { quantizedWeight, randomArray } = await import('/src/kernels/testing/data.ts' as string);
    const k = await createWasmKernels({ threads: 4 });
    const w = quantizedWeight('w', 8, 300, 512, randomArray(1, 300 * 512));
    const x = randomArray(2, 512),
      a = new Float32Array(300),
      b = new Float32Array(300);
    referenceKernels.matmul(a, x, w, 1);
    k.matmul(b, x, w, 1);
    return { threads: k.threads, isolated: crossOriginIsolated, err: Math.max(...a.map((v: number, i: number) => Math.abs(v - b[i]))) };
  });
  expect(result.isolated).toBe(false);
  expect(result.threads).toBe(1);
  expect(result.err).toBeLessThan(1e-3);
});

test('the relaxed-SIMD build is picked here, in workers too, and gives the plain build’s bits on 1 and 2 threads', async ({ page }) => {
  await page.goto(`${base}/playwright/support/wasm-kernels.html`);
  const result = await page.evaluate(async () => {
    const { createWasmKernels } = await import('/src/kernels/wasm/index.ts' as string);
    const { quantizedWeight, randomArray } = await import('/src/kernels/testing/data.ts' as string);
    // Detection inside a module worker, where the inference worker creates its kernels.
    const probe = `import('${location.origin}/src/kernels/wasm/load-module.ts').then((m) => postMessage(m.relaxedSimdSupported()))`;
    const worker = new Worker(URL.createObjectURL(new Blob([probe], { type: 'text/javascript' })), { type: 'module' });
    const inWorker = await new Promise((resolve) => {
      worker.onmessage = (e) => resolve(e.data);
    });
    worker.terminate();
    const builds = [
      await createWasmKernels(),
      await createWasmKernels({ simd: 'plain' }),
      await createWasmKernels({ threads: 2, q8_0Int16: false }),
      await createWasmKernels({ threads: 2, simd: 'plain' }),
      await createWasmKernels({ threads: 2, q8_0Int16: true }),
    ];
    const differing: string[] = [];
    for (const type of [8, 2, 6, 12, 13, 14]) {
      const rows = 517,
        cols = 512;
      const w = quantizedWeight('w', type, rows, cols, randomArray(type, rows * cols));
      for (const n of [1, 3, 6]) {
        const x = randomArray(type + n, n * cols);
        const outs = builds.map((k) => {
          const out = new Float32Array(n * rows);
          k.matmul(out, x, w, n);
          return new Uint32Array(out.buffer);
        });
        for (const [a, b] of [
          [0, 1],
          [2, 3],
          [4, 3],
        ]) {
          if (!outs[a].every((v, i) => v === outs[b][i])) differing.push(`type ${type} n=${n} build ${a}`);
        }
      }
    }
    const simd = builds.map((k) => `${k.simd}/${k.threads}/${k.q8_0Dot}`);
    for (const k of builds) k.dispose();
    return { inWorker, simd, differing };
  });
  expect(result.inWorker).toBe(true);
  // The default build's Q8_0 path depends on the CPU (dot_probe); both relaxed paths are checked.
  console.log(`Chromium picks ${result.simd[0]}`);
  expect(result.simd.slice(1)).toEqual(['plain/1/int16', 'relaxed/2/int8', 'plain/2/int16', 'relaxed/2/int16']);
  expect(result.simd[0]).toMatch(/^relaxed\/1\/int(8|16)$/);
  expect(result.differing).toEqual([]);
});
