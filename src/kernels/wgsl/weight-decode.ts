// WGSL that decodes weights in their ggml encoding, 32 values (one "chunk") at a time, straight from
// the bytes of the GGUF file held in a storage buffer of u32 words. Every type is read where it lies,
// unaligned blocks included (Q8_0 is 34 bytes, Q6_K 210), so weights are uploaded exactly as stored.
import { GgmlType, ggmlTypeName } from '../../gguf/ggml-types.ts';
import { MeshError } from '../../protocol/errors.ts';

/** The weight types the WGSL matmul decodes. */
export const WGSL_WEIGHT_TYPES: readonly number[] = [
  GgmlType.F32,
  GgmlType.F16,
  GgmlType.BF16,
  GgmlType.Q8_0,
  GgmlType.Q4_0,
  GgmlType.Q5_0,
  GgmlType.Q4_K,
  GgmlType.Q5_K,
  GgmlType.Q6_K,
];

/** Byte and half-float helpers over `W: array<u32>`; shared by every decoder. */
export const BYTE_HELPERS = /* wgsl */ `
fn word_at(o: u32) -> u32 {
  let s = (o & 3u) * 8u;
  let a = W[o >> 2u];
  if (s == 0u) { return a; }
  return (a >> s) | (W[(o >> 2u) + 1u] << (32u - s));
}
fn byte_at(o: u32) -> u32 { return (W[o >> 2u] >> ((o & 3u) * 8u)) & 0xffu; }
fn u16_at(o: u32) -> u32 { return word_at(o) & 0xffffu; }
// Exact fp16 -> f32, subnormals included (every fp16 is an f32; no reliance on unpack2x16float).
fn half_to_f32(h: u32) -> f32 {
  let s = (h & 0x8000u) << 16u;
  let e = (h >> 10u) & 0x1fu;
  let m = h & 0x3ffu;
  if (e == 0u) { return bitcast<f32>(s | bitcast<u32>(f32(m) * 5.9604644775390625e-8)); }
  if (e == 31u) { return bitcast<f32>(s | 0x7f800000u | (m << 13u)); }
  return bitcast<f32>(s | ((e + 112u) << 23u) | (m << 13u));
}
fn half_at(o: u32) -> f32 { return half_to_f32(u16_at(o)); }
fn i8_of(w: u32, k: u32) -> f32 { return f32(extractBits(bitcast<i32>(w), k * 8u, 8u)); }
`;

/** K-quant 6-bit scale and min of sub-block j (ggml's get_scale_min_k4) from 12 bytes at `o`. */
const SCALE_MIN_K4 = /* wgsl */ `
fn scale_min_k4(j: u32, o: u32) -> vec2<f32> {
  if (j < 4u) { return vec2<f32>(f32(byte_at(o + j) & 63u), f32(byte_at(o + j + 4u) & 63u)); }
  let a = byte_at(o + j + 4u);
  let sc = (a & 0xfu) | ((byte_at(o + j - 4u) >> 6u) << 4u);
  let mn = (a >> 4u) | ((byte_at(o + j) >> 6u) << 4u);
  return vec2<f32>(f32(sc), f32(mn));
}
`;

/**
 * `fn decode_chunk(rb: u32, c: u32) -> array<f32, 32>`: values 32c..32c+31 of the row starting at
 * byte rb, computed with the same float operations as ggml's dequantize_row_* (so d*sc*q, not d*(sc*q)).
 */
export function decodeChunkWgsl(type: number): string {
  switch (type) {
    case GgmlType.F32:
      return `
fn decode_chunk(rb: u32, c: u32) -> array<f32, 32> {
  var w: array<f32, 32>;
  let b = (rb >> 2u) + c * 32u;
  for (var i = 0u; i < 32u; i++) { w[i] = bitcast<f32>(W[b + i]); }
  return w;
}`;
    case GgmlType.F16:
    case GgmlType.BF16: {
      const lo = type === GgmlType.F16 ? 'half_to_f32(u & 0xffffu)' : 'bitcast<f32>(u << 16u)';
      const hi = type === GgmlType.F16 ? 'half_to_f32(u >> 16u)' : 'bitcast<f32>(u & 0xffff0000u)';
      return `
fn decode_chunk(rb: u32, c: u32) -> array<f32, 32> {
  var w: array<f32, 32>;
  let b = (rb >> 2u) + c * 16u;
  for (var i = 0u; i < 16u; i++) { let u = W[b + i]; w[2u * i] = ${lo}; w[2u * i + 1u] = ${hi}; }
  return w;
}`;
    }
    case GgmlType.Q8_0:
      return `
fn decode_chunk(rb: u32, c: u32) -> array<f32, 32> {
  var w: array<f32, 32>;
  let o = rb + c * 34u;
  let d = half_at(o);
  for (var i = 0u; i < 8u; i++) {
    let q = word_at(o + 2u + 4u * i);
    for (var k = 0u; k < 4u; k++) { w[4u * i + k] = d * i8_of(q, k); }
  }
  return w;
}`;
    case GgmlType.Q4_0:
      return `
fn decode_chunk(rb: u32, c: u32) -> array<f32, 32> {
  var w: array<f32, 32>;
  let o = rb + c * 18u;
  let d = half_at(o);
  for (var i = 0u; i < 4u; i++) {
    let q = word_at(o + 2u + 4u * i);
    for (var k = 0u; k < 4u; k++) {
      let b = (q >> (8u * k)) & 0xffu;
      w[4u * i + k] = f32(i32(b & 0xfu) - 8) * d;
      w[4u * i + k + 16u] = f32(i32(b >> 4u) - 8) * d;
    }
  }
  return w;
}`;
    case GgmlType.Q5_0:
      return `
fn decode_chunk(rb: u32, c: u32) -> array<f32, 32> {
  var w: array<f32, 32>;
  let o = rb + c * 22u;
  let d = half_at(o);
  let qh = word_at(o + 2u);
  for (var i = 0u; i < 4u; i++) {
    let q = word_at(o + 6u + 4u * i);
    for (var k = 0u; k < 4u; k++) {
      let j = 4u * i + k;
      let b = (q >> (8u * k)) & 0xffu;
      let x0 = (b & 0xfu) | (((qh >> j) << 4u) & 0x10u);
      let x1 = (b >> 4u) | ((qh >> (j + 12u)) & 0x10u);
      w[j] = f32(i32(x0) - 16) * d;
      w[j + 16u] = f32(i32(x1) - 16) * d;
    }
  }
  return w;
}`;
    case GgmlType.Q4_K:
      return `${SCALE_MIN_K4}
fn decode_chunk(rb: u32, c: u32) -> array<f32, 32> {
  var w: array<f32, 32>;
  let o = rb + (c >> 3u) * 144u;
  let j = c & 7u;
  let d = half_at(o);
  let dmin = half_at(o + 2u);
  let sm = scale_min_k4(j, o + 4u);
  let d1 = d * sm.x;
  let m1 = dmin * sm.y;
  let qo = o + 16u + 32u * (j >> 1u);
  let sh = 4u * (j & 1u);
  for (var i = 0u; i < 8u; i++) {
    let q = word_at(qo + 4u * i);
    for (var k = 0u; k < 4u; k++) { w[4u * i + k] = d1 * f32((q >> (8u * k + sh)) & 0xfu) - m1; }
  }
  return w;
}`;
    case GgmlType.Q5_K:
      return `${SCALE_MIN_K4}
fn decode_chunk(rb: u32, c: u32) -> array<f32, 32> {
  var w: array<f32, 32>;
  let o = rb + (c >> 3u) * 176u;
  let j = c & 7u;
  let d = half_at(o);
  let dmin = half_at(o + 2u);
  let sm = scale_min_k4(j, o + 4u);
  let d1 = d * sm.x;
  let m1 = dmin * sm.y;
  let qo = o + 48u + 32u * (j >> 1u);
  let sh = 4u * (j & 1u);
  for (var i = 0u; i < 8u; i++) {
    let q = word_at(qo + 4u * i);
    let h = word_at(o + 16u + 4u * i);
    for (var k = 0u; k < 4u; k++) {
      let v = ((q >> (8u * k + sh)) & 0xfu) + (((h >> (8u * k + j)) & 1u) << 4u);
      w[4u * i + k] = d1 * f32(v) - m1;
    }
  }
  return w;
}`;
    case GgmlType.Q6_K:
      return `
fn decode_chunk(rb: u32, c: u32) -> array<f32, 32> {
  var w: array<f32, 32>;
  let o = rb + (c >> 3u) * 210u;
  let hsel = (c >> 2u) & 1u;
  let k = c & 3u;
  let d = half_at(o + 208u);
  let lo = o + 64u * hsel + 32u * (k & 1u);
  let sh = 4u * (k >> 1u);
  let ho = o + 128u + 32u * hsel;
  let so = o + 192u + 8u * hsel + 2u * k;
  let ds0 = d * f32(extractBits(i32(byte_at(so)), 0u, 8u));
  let ds1 = d * f32(extractBits(i32(byte_at(so + 1u)), 0u, 8u));
  for (var i = 0u; i < 8u; i++) {
    let ql = word_at(lo + 4u * i);
    let qh = word_at(ho + 4u * i);
    let ds = select(ds1, ds0, i < 4u);
    for (var b = 0u; b < 4u; b++) {
      let q = ((ql >> (8u * b + sh)) & 0xfu) | (((qh >> (8u * b + 2u * k)) & 3u) << 4u);
      w[4u * i + b] = ds * f32(i32(q) - 32);
    }
  }
  return w;
}`;
    default:
      throw new MeshError(
        'kernel_unsupported_type',
        `the WebGPU matmul has no decoder for ${ggmlTypeName(type)} weights; supported: ${WGSL_WEIGHT_TYPES.map(ggmlTypeName).join(', ')}`,
      );
  }
}
