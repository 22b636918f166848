/**
 * `Conv2DBackpropFilter` (the gradient of a 2-D convolution with respect to its filter) for the
 * TF.js WebAssembly backend, which ships without it: without this kernel `model.fit` of any
 * convnet fails on `wasm` and people fall back to the plain-JS `cpu` backend.
 *
 * The kernel is composed at the backend level from kernels the wasm backend already has
 * (Transpose, Slice, Conv2D; for 1x1 filters StridedSlice, Reshape, BatchMatMul; Fill for empty
 * cases): it calls their `kernelFunc`s directly with `{inputs, backend, attrs}`, gets
 * `TensorInfo`s back and frees every intermediate with `backend.disposeData`. No engine Tensor is
 * created, so the engine's ref counts and `tf.memory()` are untouched.
 *
 * How: the filter gradient is itself a convolution.
 *   dW[i, j, ci, co] = sum_{n, y, x} xPadded[n, y*sH + i, x*sW + j, ci] * dy[n, y, x, co]
 * Read x transposed as a batch of Cin "images" [Cin, H, W, N] (N becomes the channel axis) and
 * dy transposed as a filter [outH, outW, N, Cout]; a stride-1 convolution with dilation
 * (sH, sW) and the forward pass's padding then yields exactly [Cin, kh, kw, Cout], which one
 * transpose turns into [kh, kw, Cin, Cout]. The wasm Conv2D runs on XNNPACK (SIMD), so the
 * whole contraction (N*outH*outW long) is a single SIMD GEMM, with no im2col copy of x.
 * NCHW needs no extra pass: it only changes the two transposes' permutations.
 *
 * Measured here (Node 20, wasm SIMD, 1 thread; x [32, 32, 32, 32], filter [3, 3, 32, 64],
 * stride 1, 'same'; P = N*outH*outW = 32768; all variants agree with cpu to ~5e-6 relative):
 *   - conv trick (this file)                                                ~ 77-80 ms
 *   - per tap: 9 x (StridedSlice, Transpose, BatchMatMul [Cin,P]x[P,Cout])   ~ 112 ms
 *   - im2col: 9 taps -> Concat -> Transpose -> one BatchMatMul [9*Cin,P]x[P,Cout] ~ 115-130 ms
 *   - im2col via Concat on the last axis (a JS copy loop) + transposed dy    ~ 150-190 ms
 *   - per tap with BatchMatMul transposeA: wasm runs any transposed or batched BatchMatMul in a
 *     scalar blocked loop ("slow_batch_matmul"); only [1,M,K]x[1,K,N] goes to XNNPACK
 *   - the native wasm Conv3DBackpropFilterV2 on a depth-1 volume             ~ 1600-2700 ms
 *   - the cpu backend's own Conv2DBackpropFilter                             ~ 127 000 ms (!)
 * Over other layers (min of 9, ms; conv trick / per tap / im2col): [32,28,28,1]->3x3x1x32
 * 5.0/14.1/13.2; [32,32,32,3]->3x3x3x32 12.2/18.4/17.0; [32,16,16,64]->3x3x64x128 stride 2
 * 15.4/148.6/153.2; [32,8,8,128]->3x3x128x128 24.4/58.6/41.8; [4,64,64,16]->5x5x16x32
 * 19.1/55.0/44.0; [32,8,8,128]->1x1x128x256 13.5/5.3/6.0. The conv trick wins except for 1x1
 * filters, where each "image" has a single output pixel and XNNPACK's tiles run mostly empty, so
 * 1x1 filters take the single-GEMM path instead. `conv2d-backprop-filter.bench.ts` re-measures.
 */
import * as tf from '@tensorflow/tfjs';
import { MscrError } from '../../connectors/errors.ts';

export const CONV2D_BACKPROP_FILTER = 'Conv2DBackpropFilter';
const WASM = 'wasm';

/** The part of the wasm backend this kernel uses (every `KernelBackend` has it). */
interface DisposingBackend {
  disposeData(dataId: object, force?: boolean): boolean;
}

function isDisposingBackend(backend: unknown): backend is DisposingBackend {
  return (
    typeof backend === 'object' &&
    backend !== null &&
    'disposeData' in backend &&
    typeof backend.disposeData === 'function'
  );
}

type ExplicitPadding = [[number, number], [number, number], [number, number], [number, number]];

/** Attributes of `Conv2DBackpropFilter`, as `tf.conv2d`'s gradient passes them. */
export interface Conv2DBackpropFilterAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

/** Runs another wasm kernel at the backend level and returns its single output. */
function runWasmKernel(
  name: string,
  backend: object,
  inputs: tf.NamedTensorInfoMap,
  attrs: tf.NamedAttrMap = {},
): tf.TensorInfo {
  const config: tf.KernelConfig | undefined = tf.getKernel(name, WASM);
  if (config === undefined) {
    throw new MscrError(
      'internal',
      `wasm backend has no '${name}' kernel, needed by ${CONV2D_BACKPROP_FILTER}`,
    );
  }
  const out = config.kernelFunc({ inputs, backend, attrs });
  if (Array.isArray(out)) {
    throw new MscrError(
      'internal',
      `wasm kernel '${name}' returned ${out.length} outputs, expected one`,
    );
  }
  return out;
}

function asAttrs(value: object): tf.NamedAttrMap {
  return value as tf.NamedAttrMap;
}

/** The wasm kernel function (exported for tests and benchmarks; use the registered kernel). */
export function conv2dBackpropFilterWasm(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: object;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const { inputs, backend } = args;
  const { x, dy } = inputs;
  if (x === undefined || dy === undefined) {
    throw new MscrError('bad_request', `${CONV2D_BACKPROP_FILTER} needs inputs x and dy`);
  }
  if (!isDisposingBackend(backend)) {
    throw new MscrError('internal', `${CONV2D_BACKPROP_FILTER}: backend cannot dispose data`);
  }
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') {
    throw new MscrError(
      'bad_request',
      `${CONV2D_BACKPROP_FILTER} on wasm supports float32 only, got x ${x.dtype} and dy ${dy.dtype}`,
    );
  }
  if (x.shape.length !== 4 || dy.shape.length !== 4) {
    throw new MscrError(
      'bad_request',
      `${CONV2D_BACKPROP_FILTER} needs rank-4 x and dy, got [${x.shape.join(', ')}] and [${dy.shape.join(', ')}]`,
    );
  }
  const attrs = (args.attrs ?? {}) as unknown as Conv2DBackpropFilterAttrs;
  const dataFormat = attrs.dataFormat ?? 'NHWC';
  if (dataFormat !== 'NHWC' && dataFormat !== 'NCHW') {
    throw new MscrError(
      'bad_request',
      `${CONV2D_BACKPROP_FILTER}: unknown dataFormat '${String(dataFormat)}'`,
    );
  }
  const channelsFirst = dataFormat === 'NCHW';
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    channelsFirst ? 'channelsFirst' : 'channelsLast',
  );
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const expectedDy = channelsFirst
    ? [batchSize, outChannels, outHeight, outWidth]
    : [batchSize, outHeight, outWidth, outChannels];
  if (dy.shape.some((size, axis) => size !== expectedDy[axis])) {
    throw new MscrError(
      'bad_request',
      `${CONV2D_BACKPROP_FILTER}: dy has shape [${dy.shape.join(', ')}], expected [${expectedDy.join(', ')}]`,
    );
  }

  // Rows (columns) of the padded input that some (output pixel, filter tap) pair reads; rows
  // beyond that are never read (stride remainder) and get cropped, rows past the input are zeros.
  const rows = window1d(inHeight, info.padInfo.top, outHeight, sh, kh);
  const cols = window1d(inWidth, info.padInfo.left, outWidth, sw, kw);
  const outShape = [kh, kw, inChannels, outChannels];
  if (
    batchSize * outHeight * outWidth * inChannels * outChannels === 0 ||
    rows.keep === 0 ||
    cols.keep === 0
  ) {
    return runWasmKernel('Fill', backend, {}, { shape: outShape, value: 0, dtype: 'float32' });
  }

  const temps: tf.TensorInfo[] = [];
  try {
    // x -> [Cin, H, W, N]: Cin is the batch of the convolution below, N its input channels.
    let images = runWasmKernel(
      'Transpose',
      backend,
      { x },
      { perm: channelsFirst ? [1, 2, 3, 0] : [3, 1, 2, 0] },
    );
    temps.push(images);
    // dy -> [outH, outW, N, Cout]: the filter of the convolution below.
    const filter = runWasmKernel(
      'Transpose',
      backend,
      { x: dy },
      { perm: channelsFirst ? [2, 3, 0, 1] : [1, 2, 0, 3] },
    );
    temps.push(filter);

    const unpadded = rows.before === 0 && rows.after === 0 && cols.before === 0 && cols.after === 0;
    if (kh === 1 && kw === 1 && unpadded) {
      // 1x1 filter: one GEMM [Cin, outH*outW*N] x [outH*outW*N, Cout]. As a convolution each of
      // the Cin "images" would have a single output pixel, which wastes most of XNNPACK's tile
      // (measured 13.5 ms vs 5.3 ms for x [32, 8, 8, 128], filter [1, 1, 128, 256]).
      if (sh > 1 || sw > 1 || rows.keep < inHeight || cols.keep < inWidth) {
        images = runWasmKernel(
          'StridedSlice',
          backend,
          { x: images },
          {
            begin: [0, 0, 0, 0],
            end: [inChannels, rows.keep, cols.keep, batchSize],
            strides: [1, sh, sw, 1],
            beginMask: 0,
            endMask: 0,
            ellipsisMask: 0,
            newAxisMask: 0,
            shrinkAxisMask: 0,
          },
        );
        temps.push(images);
      }
      const contraction = outHeight * outWidth * batchSize;
      const a = runWasmKernel(
        'Reshape',
        backend,
        { x: images },
        { shape: [1, inChannels, contraction] },
      );
      temps.push(a);
      const b = runWasmKernel(
        'Reshape',
        backend,
        { x: filter },
        { shape: [1, contraction, outChannels] },
      );
      temps.push(b);
      // Without transposes and with batch 1, wasm's BatchMatMul runs on XNNPACK.
      const product = runWasmKernel(
        'BatchMatMul',
        backend,
        { a, b },
        { transposeA: false, transposeB: false },
      );
      temps.push(product);
      return runWasmKernel('Reshape', backend, { x: product }, { shape: outShape });
    }

    if (rows.keep < inHeight || cols.keep < inWidth) {
      images = runWasmKernel(
        'Slice',
        backend,
        { x: images },
        { begin: [0, 0, 0, 0], size: [inChannels, rows.keep, cols.keep, batchSize] },
      );
      temps.push(images);
    }
    const grad = runWasmKernel(
      'Conv2D',
      backend,
      { x: images, filter },
      asAttrs({
        strides: [1, 1],
        dilations: [sh, sw],
        pad: [
          [0, 0],
          [rows.before, rows.after],
          [cols.before, cols.after],
          [0, 0],
        ],
        dataFormat: 'NHWC',
      }),
    );
    temps.push(grad);
    const expected = [inChannels, kh, kw, outChannels];
    if (grad.shape.some((size, axis) => size !== expected[axis])) {
      throw new MscrError(
        'internal',
        `${CONV2D_BACKPROP_FILTER}: inner convolution gave [${grad.shape.join(', ')}], expected [${expected.join(', ')}]`,
      );
    }
    // [Cin, kh, kw, Cout] -> [kh, kw, Cin, Cout]
    return runWasmKernel('Transpose', backend, { x: grad }, { perm: [1, 2, 0, 3] });
  } finally {
    for (const temp of temps) backend.disposeData(temp.dataId);
  }
}

/**
 * Along one spatial axis: how much zero padding goes before/after the input and how many input
 * rows are kept, so that the padded length is exactly (out - 1) * stride + kernel (the extent the
 * forward convolution reads). Handles pads larger than needed and inputs the windows never reach.
 */
function window1d(
  inSize: number,
  padBefore: number,
  outSize: number,
  stride: number,
  kernel: number,
): { before: number; keep: number; after: number } {
  const needed = (outSize - 1) * stride + kernel;
  const before = Math.min(padBefore, needed);
  const keep = Math.max(0, Math.min(inSize, needed - before));
  return { before, keep, after: needed - before - keep };
}

export const conv2dBackpropFilterWasmConfig: tf.KernelConfig = {
  kernelName: CONV2D_BACKPROP_FILTER,
  backendName: WASM,
  kernelFunc: conv2dBackpropFilterWasm as tf.KernelFunc,
};

/**
 * Registers the kernel for the `wasm` backend only. Idempotent: when a `Conv2DBackpropFilter`
 * for wasm is already registered (by an earlier call, or natively by a newer tfjs-backend-wasm)
 * it is left alone. Returns true when this call registered it.
 */
export function registerWasmConv2DBackpropFilter(): boolean {
  if (isWasmConv2DBackpropFilterRegistered()) return false;
  tf.registerKernel(conv2dBackpropFilterWasmConfig);
  return true;
}

/** Whether the wasm backend has a `Conv2DBackpropFilter` kernel (ours or a native one). */
export function isWasmConv2DBackpropFilterRegistered(): boolean {
  const existing: tf.KernelConfig | undefined = tf.getKernel(CONV2D_BACKPROP_FILTER, WASM);
  return existing !== undefined;
}
