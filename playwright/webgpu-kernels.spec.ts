// The WGSL matmul for every ggml weight type the engine runs, against the reference kernels in the
// same page: decode and batched shapes, serial rows (SwiftShader) and 64-thread rows (real GPUs).
import { expect, test } from '@playwright/test';
import type { MatmulCheck } from './support/webgpu-page.ts';
import { startWebGpuTestServer, type TestServer } from './support/webgpu-server.ts';

let server: TestServer;

test.beforeAll(async () => {
  server = await startWebGpuTestServer();
});

test.afterAll(async () => {
  await server?.close();
});

test('matmul of every weight type matches the reference kernels', async ({ page }) => {
  await page.goto(`${server.base}/playwright/support/webgpu.html`);
  const checks: MatmulCheck[] = await page.evaluate(async () => {
    const { webgpuMatmulChecks } = await import('/playwright/support/webgpu-page.ts' as string);
    return webgpuMatmulChecks();
  });
  expect(checks).toHaveLength(9 * 2 * 2);
  expect(new Set(checks.map((c) => c.threadsPerRow))).toEqual(new Set([1, 16])); // 512 columns = 16 chunks
  for (const c of checks) expect(c.error, `type ${c.type}, ${c.threadsPerRow} threads per row, n=${c.n}`).toBeLessThan(1e-4);
});
