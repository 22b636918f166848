/**
 * Layout arithmetic shared by the converters: permuting weight arrays (TF.js keeps kernels
 * as HWIO, ONNX wants OIHW), mapping Keras channels-last axes onto the channels-first
 * tensors the ONNX convolution ops work on, and TensorFlow's 'same' padding.
 */

/** Permutes a dense row-major array of `shape` so that output axis i is input axis perm[i]. */
export function permute(
  values: Float32Array,
  shape: readonly number[],
  perm: readonly number[],
): Float32Array {
  const rank = shape.length;
  if (perm.length !== rank)
    throw new Error(`permutation of rank ${perm.length} for a rank-${rank} array`);
  const inStrides = new Array<number>(rank).fill(1);
  for (let i = rank - 2; i >= 0; i--)
    inStrides[i] = (inStrides[i + 1] as number) * (shape[i + 1] as number);
  const outShape = perm.map((p) => shape[p] as number);
  const strides = perm.map((p) => inStrides[p] as number);
  const out = new Float32Array(values.length);
  const index = new Array<number>(rank).fill(0);
  for (let o = 0; o < out.length; o++) {
    let source = 0;
    for (let i = 0; i < rank; i++) source += (index[i] as number) * (strides[i] as number);
    out[o] = values[source] as number;
    // Odometer increment over the output shape.
    for (let i = rank - 1; i >= 0; i--) {
      index[i] = (index[i] as number) + 1;
      if ((index[i] as number) < (outShape[i] as number)) break;
      index[i] = 0;
    }
  }
  return out;
}

/** Axis `axis` (possibly negative) of a rank-`rank` tensor, normalised to 0..rank-1. */
export function normaliseAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/**
 * Where a Keras channels-last axis of a rank-4 tensor (N, H, W, C) lives in the
 * channels-first tensor (N, C, H, W) that carries it in the graph.
 */
export function channelsFirstAxis(kerasAxis: number, rank: number): number {
  const a = normaliseAxis(kerasAxis, rank);
  if (a === 0) return 0;
  return a === rank - 1 ? 1 : a + 1;
}

export const TO_CHANNELS_FIRST = [0, 3, 1, 2] as const;
export const TO_CHANNELS_LAST = [0, 2, 3, 1] as const;

/**
 * TensorFlow's 'same' padding for one spatial axis: output ceil(in / stride); the total
 * padding split with the odd pixel at the end (what ONNX calls SAME_UPPER), written out
 * explicitly so no runtime has to infer it.
 */
export function samePadding(
  size: number,
  kernel: number,
  stride: number,
  dilation = 1,
): { before: number; after: number } {
  const effective = (kernel - 1) * dilation + 1;
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + effective - size, 0);
  const before = Math.floor(total / 2);
  return { before, after: total - before };
}
