/**
 * Converters for the image layers: 2-D convolution (and depthwise), pooling, global pooling
 * and zero padding. They all work on channels-first values; 'same' padding is written as
 * explicit pads computed from the static spatial size, the way TensorFlow pads.
 */
import { applyActivation } from './activations.ts';
import {
  onlyInput,
  pairConfig,
  type ConvertContext,
  type Converter,
  type Value,
} from './context.ts';
import { permute, samePadding } from './tensor-layout.ts';

function requireChannelsLast(context: ConvertContext): void {
  const format = context.config.dataFormat;
  if (
    format !== undefined &&
    format !== null &&
    format !== 'channelsLast' &&
    format !== 'channels_last'
  ) {
    throw context.unsupported(
      `dataFormat '${String(format)}' (only channelsLast, TF.js's default)`,
    );
  }
}

/** ONNX pads [top, left, bottom, right] for a rank-4 Keras input (N, H, W, C). */
function spatialPads(
  context: ConvertContext,
  input: Value,
  kernel: [number, number],
  strides: [number, number],
  dilation: [number, number] = [1, 1],
): number[] {
  const padding = context.config.padding ?? 'valid';
  if (padding === 'valid') return [0, 0, 0, 0];
  if (padding !== 'same') throw context.unsupported(`padding '${String(padding)}'`);
  const [, height, width] = input.shape;
  if (typeof height !== 'number' || typeof width !== 'number') {
    throw context.unsupported("'same' padding on an input without a fixed height and width");
  }
  const h = samePadding(height, kernel[0], strides[0], dilation[0]);
  const w = samePadding(width, kernel[1], strides[1], dilation[1]);
  return [h.before, w.before, h.after, w.after];
}

function rank4Input(context: ConvertContext): Value {
  const input = onlyInput(context);
  if (input.shape.length !== 4)
    throw context.unsupported(`a rank-${input.shape.length} input (expected N, H, W, C)`);
  requireChannelsLast(context);
  return input;
}

function convolution(depthwise: boolean): Converter {
  return (context) => {
    const input = rank4Input(context);
    const { graph, name } = context;
    const strides = pairConfig(context, 'strides', [1, 1]);
    const dilation = pairConfig(context, 'dilationRate', [1, 1]);
    const kernel = context.requireWeight(depthwise ? 'depthwise_kernel' : 'kernel');
    const [kh, kw, inChannels, perChannel] = kernel.shape as [number, number, number, number];
    // TF.js HWIO -> ONNX OIHW. A depthwise kernel (H, W, C, M) is a grouped convolution
    // with C groups whose output channel c*M + m is TF's: (C*M, 1, H, W).
    const weights = depthwise
      ? {
          dims: [inChannels * perChannel, 1, kh, kw],
          values: permute(kernel.values, kernel.shape, [2, 3, 0, 1]),
        }
      : {
          dims: [perChannel, inChannels, kh, kw],
          values: permute(kernel.values, kernel.shape, [3, 2, 0, 1]),
        };
    const w = graph.floatInitializer(`${name}/kernel`, weights.dims, weights.values);
    const inputs = [context.channelsFirst(input), w];
    const bias = context.weight('bias');
    if (bias) inputs.push(graph.floatInitializer(`${name}/bias`, bias.shape, bias.values));
    const out = graph.op('Conv', inputs, {
      name,
      attributes: {
        kernel_shape: [kh, kw],
        strides,
        dilations: dilation,
        pads: spatialPads(context, input, [kh, kw], strides, dilation),
        group: depthwise ? inChannels : 1,
      },
    });
    const value: Value = { name: out, layout: 'channels-first', shape: context.outputShape };
    return applyActivation(context, value, context.config.activation);
  };
}

function pooling(op: 'MaxPool' | 'AveragePool'): Converter {
  return (context) => {
    const input = rank4Input(context);
    const poolSize = pairConfig(context, 'poolSize', [2, 2]);
    // TF.js defaults strides to the pool size; getConfig() reports the resolved value.
    const strides = pairConfig(context, 'strides', poolSize);
    const attributes: Record<string, number | number[]> = {
      kernel_shape: poolSize,
      strides,
      pads: spatialPads(context, input, poolSize, strides),
    };
    // TF averages 'same' windows over the real pixels only: count_include_pad = 0 (the default).
    if (op === 'AveragePool') attributes.count_include_pad = 0;
    const out = context.graph.op(op, [context.channelsFirst(input)], {
      name: context.name,
      attributes,
    });
    return { name: out, layout: 'channels-first', shape: context.outputShape };
  };
}

function globalPooling(op: 'GlobalAveragePool' | 'GlobalMaxPool'): Converter {
  return (context) => {
    const input = rank4Input(context);
    if (context.config.keepDims === true) throw context.unsupported('keepDims: true');
    const { graph, name } = context;
    const pooled = graph.op(op, [context.channelsFirst(input)], { name });
    // (N, C, 1, 1) -> (N, C): rank 2, where both layouts coincide.
    const out = graph.op('Flatten', [pooled], { name, attributes: { axis: 1 } });
    return { name: out, layout: 'channels-last', shape: context.outputShape };
  };
}

const zeroPadding2d: Converter = (context) => {
  const input = rank4Input(context);
  const padding = context.config.padding;
  let rows: [number, number];
  let cols: [number, number];
  if (typeof padding === 'number') {
    rows = [padding, padding];
    cols = [padding, padding];
  } else if (
    Array.isArray(padding) &&
    padding.length === 2 &&
    padding.every((p) => typeof p === 'number')
  ) {
    rows = [padding[0] as number, padding[0] as number];
    cols = [padding[1] as number, padding[1] as number];
  } else if (
    Array.isArray(padding) &&
    padding.length === 2 &&
    padding.every((p) => Array.isArray(p) && p.length === 2)
  ) {
    rows = padding[0] as [number, number];
    cols = padding[1] as [number, number];
  } else {
    throw context.unsupported(`padding ${JSON.stringify(padding)}`);
  }
  const { graph, name } = context;
  const pads = graph.int64Initializer(`${name}/pads`, [
    0,
    0,
    rows[0],
    cols[0],
    0,
    0,
    rows[1],
    cols[1],
  ]);
  const out = graph.op('Pad', [context.channelsFirst(input), pads], { name });
  return { name: out, layout: 'channels-first', shape: context.outputShape };
};

/** A number, or an array of one number, from the config (1-D layers write either). */
function singleConfig(context: ConvertContext, key: string, fallback: number): number {
  const value = context.config[key] ?? fallback;
  const single = Array.isArray(value) && value.length === 1 ? value[0] : value;
  if (typeof single !== 'number')
    throw context.unsupported(`config ${key}=${JSON.stringify(value)}`);
  return single;
}

/**
 * Conv1D over (N, T, C): transposed to (N, C, T) for a 1-D Conv and back. ('causal'
 * padding is refused: TF.js cannot run it either.)
 */
const conv1d: Converter = (context) => {
  const input = onlyInput(context);
  if (input.shape.length !== 3) {
    throw context.unsupported(`a rank-${input.shape.length} input (expected N, T, C)`);
  }
  requireChannelsLast(context);
  const { graph, name } = context;
  const kernel = context.requireWeight('kernel');
  const [k, inChannels, filters] = kernel.shape as [number, number, number];
  const stride = singleConfig(context, 'strides', 1);
  const dilation = singleConfig(context, 'dilationRate', 1);
  const padding = context.config.padding ?? 'valid';
  let pads: number[];
  if (padding === 'valid') pads = [0, 0];
  else if (padding === 'same') {
    const steps = input.shape[1];
    if (typeof steps !== 'number')
      throw context.unsupported("'same' padding without a fixed length");
    const p = samePadding(steps, k, stride, dilation);
    pads = [p.before, p.after];
  } else throw context.unsupported(`padding '${String(padding)}'`);
  // TF.js (K, I, O) -> ONNX (O, I, K).
  const w = graph.floatInitializer(
    `${name}/kernel`,
    [filters, inChannels, k],
    permute(kernel.values, kernel.shape, [2, 1, 0]),
  );
  const x = graph.op('Transpose', [context.channelsLast(input)], {
    name,
    attributes: { perm: [0, 2, 1] },
  });
  const inputs = [x, w];
  const bias = context.weight('bias');
  if (bias) inputs.push(graph.floatInitializer(`${name}/bias`, bias.shape, bias.values));
  const conv = graph.op('Conv', inputs, {
    name,
    attributes: { kernel_shape: [k], strides: [stride], dilations: [dilation], pads, group: 1 },
  });
  const out = graph.op('Transpose', [conv], { name, attributes: { perm: [0, 2, 1] } });
  return applyActivation(
    context,
    { name: out, layout: 'channels-last', shape: context.outputShape },
    context.config.activation,
  );
};

/** SeparableConv2D: the depthwise convolution (strides, dilation, padding), then a 1x1 one. */
const separableConv2d: Converter = (context) => {
  const input = rank4Input(context);
  const { graph, name } = context;
  const strides = pairConfig(context, 'strides', [1, 1]);
  const dilation = pairConfig(context, 'dilationRate', [1, 1]);
  const depthwise = context.requireWeight('depthwise_kernel');
  const pointwise = context.requireWeight('pointwise_kernel');
  const [kh, kw, inChannels, perChannel] = depthwise.shape as [number, number, number, number];
  const filters = pointwise.shape[3] as number;
  const dw = graph.floatInitializer(
    `${name}/depthwise_kernel`,
    [inChannels * perChannel, 1, kh, kw],
    permute(depthwise.values, depthwise.shape, [2, 3, 0, 1]),
  );
  const depth = graph.op('Conv', [context.channelsFirst(input), dw], {
    name,
    attributes: {
      kernel_shape: [kh, kw],
      strides,
      dilations: dilation,
      pads: spatialPads(context, input, [kh, kw], strides, dilation),
      group: inChannels,
    },
  });
  const pw = graph.floatInitializer(
    `${name}/pointwise_kernel`,
    [filters, inChannels * perChannel, 1, 1],
    permute(pointwise.values, pointwise.shape, [3, 2, 0, 1]),
  );
  const inputs = [depth, pw];
  const bias = context.weight('bias');
  if (bias) inputs.push(graph.floatInitializer(`${name}/bias`, bias.shape, bias.values));
  const out = graph.op('Conv', inputs, { name, attributes: { kernel_shape: [1, 1], group: 1 } });
  return applyActivation(
    context,
    { name: out, layout: 'channels-first', shape: context.outputShape },
    context.config.activation,
  );
};

/**
 * UpSampling2D by integer factors. Nearest: pixel i comes from floor(i / factor). Bilinear:
 * TF.js's resizeBilinear without align-corners or half-pixel centres, i.e. ONNX's
 * 'asymmetric' coordinate transform.
 */
const upSampling2d: Converter = (context) => {
  const input = rank4Input(context);
  const { graph, name } = context;
  const [sh, sw] = pairConfig(context, 'size', [2, 2]);
  const interpolation = context.config.interpolation ?? 'nearest';
  if (interpolation !== 'nearest' && interpolation !== 'bilinear') {
    throw context.unsupported(`interpolation '${String(interpolation)}'`);
  }
  const scales = graph.floatInitializer(`${name}/scales`, [4], Float32Array.of(1, 1, sh, sw));
  const out = graph.op('Resize', [context.channelsFirst(input), '', scales], {
    name,
    attributes:
      interpolation === 'nearest'
        ? { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }
        : { mode: 'linear', coordinate_transformation_mode: 'asymmetric' },
  });
  return { name: out, layout: 'channels-first', shape: context.outputShape };
};

const cropping2d: Converter = (context) => {
  const input = rank4Input(context);
  const cropping = context.config.cropping;
  if (
    !Array.isArray(cropping) ||
    cropping.length !== 2 ||
    !cropping.every(
      (p) => Array.isArray(p) && p.length === 2 && p.every((v) => typeof v === 'number'),
    )
  ) {
    throw context.unsupported(`cropping ${JSON.stringify(cropping)}`);
  }
  const [[top, bottom], [left, right]] = cropping as [[number, number], [number, number]];
  const [, height, width] = input.shape;
  if (typeof height !== 'number' || typeof width !== 'number') {
    throw context.unsupported('cropping an input without a fixed height and width');
  }
  const { graph, name } = context;
  const starts = graph.int64Initializer(`${name}/starts`, [top, left]);
  const ends = graph.int64Initializer(`${name}/ends`, [height - bottom, width - right]);
  const axes = graph.int64Initializer(`${name}/axes`, [2, 3]);
  const out = graph.op('Slice', [context.channelsFirst(input), starts, ends, axes], { name });
  return { name: out, layout: 'channels-first', shape: context.outputShape };
};

export const convConverters: Record<string, Converter> = {
  Conv1D: conv1d,
  SeparableConv2D: separableConv2d,
  UpSampling2D: upSampling2d,
  Cropping2D: cropping2d,
  Conv2D: convolution(false),
  DepthwiseConv2D: convolution(true),
  MaxPooling2D: pooling('MaxPool'),
  AveragePooling2D: pooling('AveragePool'),
  GlobalAveragePooling2D: globalPooling('GlobalAveragePool'),
  GlobalMaxPooling2D: globalPooling('GlobalMaxPool'),
  ZeroPadding2D: zeroPadding2d,
};
