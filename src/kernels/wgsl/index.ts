// The WGSL kernels: shader sources and the small host-side rules that go with them (which rounding a
// weight type needs, how many threads share a row). Device code lives in engine/webgpu/.
export { ATTENTION_MAX_HEAD_DIM, ATTENTION_WGSL, attentionWgsl, STORE_KV_F16_WGSL } from './attention.ts';
export { ADD_BIAS_WGSL, STORE_KV_WGSL, SWIGLU_WGSL } from './elementwise.ts';
export { MATMUL_GROUP_SIZE, MATMUL_TOKENS_PER_GROUP, matmulThreadsPerRow, matmulWgsl } from './matmul.ts';
export { ROPE_WGSL, rmsnormWgsl } from './norm-rope.ts';
export { ROUND_ACTIVATIONS_WGSL, ROUND_NONE, roundingBlock, roundingMode } from './round-activations.ts';
export { WGSL_WEIGHT_TYPES, decodeChunkWgsl } from './weight-decode.ts';
