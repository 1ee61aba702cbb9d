// One device's shared state: compiled pipelines by key, buffer helpers, and Recorder, which collects a
// whole forward (uploads, then dispatches) and submits it as one command buffer with one readback.
import { WebGpuError } from './errors.ts';

// WebGPU's flag values (GPUBufferUsage / GPUMapMode), spelled out: TypeScript's DOM library declares
// the types but not these globals.
const USAGE = { MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, UNIFORM: 0x40, STORAGE: 0x80 } as const;
const MAP_READ = 0x1;
const UNIFORM_SLOT = 256; // minUniformBufferOffsetAlignment's largest allowed value
const MAX_GROUPS = 65535;

/** The u32 bits of an f32, for uniform fields declared f32. */
export function f32Bits(x: number): number {
  return new Uint32Array(Float32Array.of(x).buffer)[0];
}

/** Splits a workgroup count over x and y so neither exceeds the per-dimension limit. */
export function foldGroups(groups: number): [number, number] {
  const x = Math.max(1, Math.min(groups, MAX_GROUPS));
  return [x, Math.max(1, Math.ceil(groups / x))];
}

export class GpuContext {
  readonly device: GPUDevice;
  /** A software adapter: kernels avoid workgroup barriers where they can (see matmulThreadsPerRow). */
  readonly software: boolean;
  /** The device has shader-f16: an f16 KV cache is held as f16 (attentionWgsl(true)). */
  readonly shaderF16: boolean;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private lost: string | undefined;

  constructor(device: GPUDevice, software = false, shaderF16 = false) {
    this.device = device;
    this.software = software;
    this.shaderF16 = shaderF16;
    void device.lost.then((info) => {
      this.lost = info.message || info.reason;
    });
  }

  /** Compiles (once) the pipeline for `key`; compile errors become WebGpuErrors with the log. */
  async prepare(key: string, source: () => string): Promise<void> {
    if (this.pipelines.has(key)) return;
    const module = this.device.createShaderModule({ label: key, code: source() });
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length) {
      throw new WebGpuError('webgpu_failed', `shader ${key} does not compile: ${errors.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join('; ')}`);
    }
    try {
      this.pipelines.set(key, await this.device.createComputePipelineAsync({ label: key, layout: 'auto', compute: { module, entryPoint: 'main' } }));
    } catch (cause) {
      throw new WebGpuError('webgpu_failed', `pipeline ${key} could not be created: ${(cause as Error).message}`, { cause });
    }
  }

  pipeline(key: string): GPUComputePipeline {
    const p = this.pipelines.get(key);
    if (!p) throw new WebGpuError('webgpu_failed', `pipeline ${key} was not prepared`);
    return p;
  }

  checkAlive(): void {
    if (this.lost !== undefined) throw new WebGpuError('webgpu_device_lost', `the GPU device was lost (${this.lost}); reload the model`);
  }

  /** A storage buffer of at least `bytes` (rounded up to whole words), optionally filled. */
  storage(label: string, bytes: number, data?: Uint8Array): GPUBuffer {
    const size = Math.max(16, Math.ceil((bytes + (data ? 4 : 0)) / 4) * 4); // +4: word_at may read one word past a block
    const buffer = this.device.createBuffer({
      label,
      size,
      usage: USAGE.STORAGE | USAGE.COPY_DST | USAGE.COPY_SRC,
      mappedAtCreation: !!data,
    });
    if (data) {
      new Uint8Array(buffer.getMappedRange()).set(data);
      buffer.unmap();
    }
    return buffer;
  }

  vector(label: string, values: Float32Array): GPUBuffer {
    return this.storage(label, values.byteLength, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  }

  recorder(): Recorder {
    this.checkAlive();
    return new Recorder(this);
  }
}

interface Dispatch {
  readonly key: string;
  readonly buffers: readonly GPUBuffer[];
  readonly params: readonly number[];
  readonly groups: readonly [number, number, number];
}

export class Recorder {
  private readonly ctx: GpuContext;
  private readonly uploads: [GPUBuffer, Float32Array][] = [];
  private readonly dispatches: Dispatch[] = [];

  constructor(ctx: GpuContext) {
    this.ctx = ctx;
  }

  /** Data written to `buffer` (from offset 0) before the dispatches run. */
  upload(buffer: GPUBuffer, data: Float32Array): void {
    this.uploads.push([buffer, data]);
  }

  /** One dispatch: uniform params (u32 words, see f32Bits) at binding 0, then `buffers` at 1, 2, … */
  dispatch(key: string, buffers: readonly GPUBuffer[], params: readonly number[], groups: readonly [number, number, number]): void {
    if (params.length > UNIFORM_SLOT / 4) throw new WebGpuError('webgpu_failed', `${key}: too many params`);
    this.dispatches.push({ key, buffers, params, groups });
  }

  /**
   * Submits everything as one command buffer and reads back `bytes` bytes of `from` (when given).
   * Everything up to submit() is synchronous, so interleaved sessions cannot swap buffers under it.
   */
  async run(from?: GPUBuffer, bytes = 0): Promise<Float32Array | undefined> {
    return (await this.runReading(from && bytes > 0 ? [[from, bytes]] : []))[0];
  }

  /** As run(), reading back the first `bytes` of each listed buffer (in one staging copy each). */
  async runReading(reads: readonly (readonly [GPUBuffer, number])[]): Promise<Float32Array[]> {
    const { device } = this.ctx;
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    const uniforms = device.createBuffer({ label: 'params', size: Math.max(1, this.dispatches.length) * UNIFORM_SLOT, usage: USAGE.UNIFORM | USAGE.COPY_DST });
    const words = new Uint32Array((Math.max(1, this.dispatches.length) * UNIFORM_SLOT) / 4);
    this.dispatches.forEach((d, i) => words.set(d.params, (i * UNIFORM_SLOT) / 4));
    device.queue.writeBuffer(uniforms, 0, words);
    for (const [buffer, data] of this.uploads) device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    this.dispatches.forEach((d, i) => {
      const pipeline = this.ctx.pipeline(d.key);
      const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: uniforms, offset: i * UNIFORM_SLOT, size: UNIFORM_SLOT } }];
      d.buffers.forEach((buffer, j) => entries.push({ binding: j + 1, resource: { buffer } }));
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries }));
      pass.dispatchWorkgroups(d.groups[0], d.groups[1], d.groups[2]);
    });
    pass.end();
    const staging = reads.map(([from, bytes]) => {
      const b = device.createBuffer({ label: 'readback', size: bytes, usage: USAGE.MAP_READ | USAGE.COPY_DST });
      encoder.copyBufferToBuffer(from, 0, b, 0, bytes);
      return b;
    });
    device.queue.submit([encoder.finish()]);
    const validation = device.popErrorScope();
    const oom = device.popErrorScope();
    try {
      const [v, m] = await Promise.all([validation, oom]);
      if (m)
        throw new WebGpuError('webgpu_out_of_memory', `the GPU ran out of memory (${m.message}); use a smaller model, shorter context, or the "cpu" backend`);
      if (v) throw new WebGpuError('webgpu_failed', `the GPU rejected the forward pass: ${v.message}`);
      if (!staging.length) {
        await device.queue.onSubmittedWorkDone();
        return [];
      }
      return await Promise.all(
        staging.map(async (b) => {
          await b.mapAsync(MAP_READ);
          return new Float32Array(b.getMappedRange().slice(0));
        }),
      );
    } finally {
      for (const b of staging) b.destroy();
      uniforms.destroy();
      this.ctx.checkAlive();
    }
  }
}
