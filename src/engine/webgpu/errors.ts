// Errors of the WebGPU backend: a GPU that reports a validation or memory error, or a model it cannot run.
import { MeshError } from '../../protocol/errors.ts';

export type WebGpuErrorCode = 'webgpu_failed' | 'webgpu_out_of_memory' | 'webgpu_unsupported_model' | 'webgpu_device_lost';

export class WebGpuError extends MeshError {
  constructor(code: WebGpuErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'WebGpuError';
  }
}
