// The reference backend: plain scalar TypeScript, the oracle every fast backend is tested against.
import type { Kernels } from '../types.ts';
import { attention } from './attention.ts';
import { add, addBias, softmax, swiglu } from './elementwise.ts';
import { embed } from './embed.ts';
import { matmul } from './matmul.ts';
import { rmsnorm } from './rmsnorm.ts';
import { rope } from './rope.ts';

export const referenceKernels: Kernels = {
  name: 'reference',
  matmul,
  rmsnorm,
  rope,
  attention,
  swiglu,
  add,
  addBias,
  softmax,
  embed,
};
