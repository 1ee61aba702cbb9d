// Test support: a WebGPU adapter with shader-f16 in Node, which Chromium cannot give here (its only
// CPU adapter is SwiftShader, without f16; see ARCHITECTURE.md). Dawn for Node (the `webgpu`
// package) over lavapipe, Mesa 25's CPU Vulkan driver that `node scripts/bootstrap.mjs test`
// unpacks to .cache/lavapipe (Debian 12's own Mesa 22.3 lacks Vulkan features Dawn requires).
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const LAVAPIPE_ICD = process.env.LAVAPIPE_ICD ?? join(import.meta.dirname, '..', '..', '..', '.cache', 'lavapipe', 'lvp_icd.json');

/** Dawn's instance: kept referenced for the process, as collecting it while a device lives crashes the addon. */
let gpu: Promise<GPU> | undefined;

/** The GPU object of Dawn over lavapipe (WebGPU globals such as GPUBufferUsage installed). */
export function lavapipeGpu(): Promise<GPU> {
  gpu ??= (async () => {
    if (!existsSync(LAVAPIPE_ICD)) {
      throw new Error(
        `no lavapipe driver at ${LAVAPIPE_ICD}: run "node scripts/bootstrap.mjs test" once (it fetches Mesa 25's lavapipe on Debian 12), or set LAVAPIPE_ICD to an lvp_icd.json`,
      );
    }
    process.env.VK_ICD_FILENAMES = LAVAPIPE_ICD; // read when Dawn creates its Vulkan instance, below
    const { create, globals } = await import('webgpu');
    Object.assign(globalThis, globals);
    return create([]);
  })();
  return gpu;
}

/** A shader-f16 device on lavapipe; throws when the adapter lacks the feature. */
export async function lavapipeF16Device(): Promise<GPUDevice> {
  const adapter = await (await lavapipeGpu()).requestAdapter();
  if (!adapter?.features.has('shader-f16')) throw new Error(`the lavapipe adapter has no shader-f16 (${adapter?.info.description ?? 'no adapter'})`);
  return adapter.requestDevice({ requiredFeatures: ['shader-f16'] });
}

/** Makes navigator.gpu the lavapipe GPU, so the engine's own device code (engine/webgpu/device.ts) runs. */
export async function installLavapipeNavigatorGpu(): Promise<void> {
  Object.defineProperty(globalThis.navigator, 'gpu', { value: await lavapipeGpu(), configurable: true });
}
