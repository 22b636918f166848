/**
 * Converters for the layers that are not convolutional or recurrent: dense, flatten,
 * reshape, activations, batch normalisation (its inference form), merges, and the layers
 * that are the identity at inference time (dropout and noise).
 */
import { applyActivation } from './activations.ts';
import { float } from './graph-builder.ts';
import {
  numberConfig,
  onlyInput,
  type ConvertContext,
  type Converter,
  type Value,
} from './context.ts';
import { channelsFirstAxis, normaliseAxis } from './tensor-layout.ts';

const keep = (context: ConvertContext, value: Value): Value => ({
  ...value,
  shape: context.outputShape,
});

/** Dropout and noise layers do nothing at inference time; so does the InputLayer. */
const identity: Converter = (context) => keep(context, onlyInput(context));

const dense: Converter = (context) => {
  const input = onlyInput(context);
  const { graph, name } = context;
  const kernel = context.requireWeight('kernel');
  const bias = context.weight('bias');
  const x = context.channelsLast(input);
  const w = graph.floatInitializer(`${name}/kernel`, kernel.shape, kernel.values);
  const b = bias ? graph.floatInitializer(`${name}/bias`, bias.shape, bias.values) : undefined;
  let out: string;
  if (input.shape.length === 2) {
    // Gemm: x (N x in) times kernel (in x units) plus bias; one fused kernel in every runtime.
    out = graph.op('Gemm', b ? [x, w, b] : [x, w], { name });
  } else {
    // Keras applies Dense to the last axis of a higher-rank input.
    out = graph.op('MatMul', [x, w], { name });
    if (b) out = graph.op('Add', [out, b], { name });
  }
  const value: Value = { name: out, layout: 'channels-last', shape: context.outputShape };
  return applyActivation(context, value, context.config.activation);
};

const flatten: Converter = (context) => {
  const input = onlyInput(context);
  // Flatten in TF.js order (H, W, C): back to channels-last first, or the features scramble.
  const x = context.channelsLast(input);
  if (input.shape.length === 2)
    return { name: x, layout: 'channels-last', shape: context.outputShape };
  const out = context.graph.op('Flatten', [x], { name: context.name, attributes: { axis: 1 } });
  return { name: out, layout: 'channels-last', shape: context.outputShape };
};

const reshape: Converter = (context) => {
  const input = onlyInput(context);
  const target = context.config.targetShape;
  if (!Array.isArray(target) || !target.every((d) => typeof d === 'number')) {
    throw context.unsupported(`targetShape ${JSON.stringify(target)}`);
  }
  const x = context.channelsLast(input);
  // 0 copies the (dynamic) batch dimension; -1 in the target is inferred as in Keras.
  const shape = context.graph.int64Initializer(`${context.name}/shape`, [
    0,
    ...(target as number[]),
  ]);
  const out = context.graph.op('Reshape', [x, shape], { name: context.name });
  return { name: out, layout: 'channels-last', shape: context.outputShape };
};

const activation: Converter = (context) =>
  applyActivation(context, keep(context, onlyInput(context)), context.config.activation);

const relu: Converter = (context) => {
  const input = keep(context, onlyInput(context));
  const maxValue = context.config.maxValue;
  if (maxValue === null || maxValue === undefined) return applyActivation(context, input, 'relu');
  if (typeof maxValue !== 'number')
    throw context.unsupported(`maxValue ${JSON.stringify(maxValue)}`);
  const { graph } = context;
  const low = graph.floatInitializer(`${context.name}/min`, [], Float32Array.of(0));
  const high = graph.floatInitializer(`${context.name}/max`, [], Float32Array.of(maxValue));
  return { ...input, name: graph.op('Clip', [input.name, low, high], { name: context.name }) };
};

const leakyRelu: Converter = (context) => {
  const input = keep(context, onlyInput(context));
  const alpha = numberConfig(context, 'alpha', 0.3);
  const out = context.graph.op('LeakyRelu', [input.name], {
    name: context.name,
    attributes: { alpha: float(alpha) },
  });
  return { ...input, name: out };
};

const elu: Converter = (context) => {
  const input = keep(context, onlyInput(context));
  const alpha = numberConfig(context, 'alpha', 1);
  const out = context.graph.op('Elu', [input.name], {
    name: context.name,
    attributes: { alpha: float(alpha) },
  });
  return { ...input, name: out };
};

const softmax: Converter = (context) => {
  const input = keep(context, onlyInput(context));
  const axis = numberConfig(context, 'axis', 1); // TF.js's Softmax layer defaults to axis 1
  const rank = input.shape.length;
  const onnxAxis =
    input.layout === 'channels-first' ? channelsFirstAxis(axis, rank) : normaliseAxis(axis, rank);
  const out = context.graph.op('Softmax', [input.name], {
    name: context.name,
    attributes: { axis: onnxAxis },
  });
  return { ...input, name: out };
};

/**
 * Inference-form batch normalisation, y = gamma (x - mean) / sqrt(var + eps) + beta, over
 * the last (channel) axis. On rank 2, and on rank 4 carried channels-first, that axis is
 * ONNX's channel axis 1: one BatchNormalization node, which runtimes fold into the preceding
 * convolution. On other ranks: a broadcast multiply-add with the folded scale and shift.
 * Another axis is refused: TF.js's batch-norm kernels (cpu and wasm) index the statistics
 * along the last axis whatever the layer's axis, so no faithful export of that exists.
 */
const batchNormalization: Converter = (context) => {
  const input = onlyInput(context);
  const { graph, name } = context;
  const rank = input.shape.length;
  const axisConfig = context.config.axis;
  const kerasAxis = normaliseAxis(
    Array.isArray(axisConfig) && axisConfig.length === 1
      ? (axisConfig[0] as number)
      : (axisConfig as number),
    rank,
  );
  const mean = context.requireWeight('moving_mean');
  const variance = context.requireWeight('moving_variance');
  const channels = mean.values.length;
  const gamma = context.weight('gamma')?.values ?? new Float32Array(channels).fill(1);
  const beta = context.weight('beta')?.values ?? new Float32Array(channels);
  const epsilon = numberConfig(context, 'epsilon', 1e-3);
  if (kerasAxis !== rank - 1) {
    throw context.unsupported(
      `axis ${String(axisConfig)} of a rank-${rank} input (TF.js normalises along the last axis only)`,
    );
  }
  if (rank === 2 || rank === 4) {
    const x = rank === 4 ? context.channelsFirst(input) : input.name;
    const inputs = [
      x,
      graph.floatInitializer(`${name}/gamma`, [channels], gamma),
      graph.floatInitializer(`${name}/beta`, [channels], beta),
      graph.floatInitializer(`${name}/moving_mean`, [channels], mean.values),
      graph.floatInitializer(`${name}/moving_variance`, [channels], variance.values),
    ];
    const out = graph.op('BatchNormalization', inputs, {
      name,
      attributes: { epsilon: float(epsilon) },
    });
    return {
      name: out,
      layout: rank === 4 ? 'channels-first' : 'channels-last',
      shape: context.outputShape,
    };
  }
  const scale = new Float32Array(channels);
  const shift = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    scale[c] = (gamma[c] as number) / Math.sqrt((variance.values[c] as number) + epsilon);
    shift[c] = (beta[c] as number) - (mean.values[c] as number) * (scale[c] as number);
  }
  // Broadcasts along the last axis.
  const dims = [channels];
  const x = context.channelsLast(input);
  const scaled = graph.op('Mul', [x, graph.floatInitializer(`${name}/scale`, dims, scale)], {
    name,
  });
  const out = graph.op('Add', [scaled, graph.floatInitializer(`${name}/shift`, dims, shift)], {
    name,
  });
  return { name: out, layout: 'channels-last', shape: context.outputShape };
};

/** Brings every input of a merge to one layout: channels-first if any rank-4 input is. */
function alignedInputs(context: ConvertContext): { names: string[]; layout: Value['layout'] } {
  const first = context.inputs[0];
  if (!first || context.inputs.length < 2)
    throw context.unsupported(`${context.inputs.length} inputs (a merge needs two or more)`);
  const rank = first.shape.length;
  if (context.inputs.some((v) => v.shape.length !== rank))
    throw context.unsupported('inputs of different ranks');
  const layout =
    rank === 4 && context.inputs.some((v) => v.layout === 'channels-first')
      ? 'channels-first'
      : 'channels-last';
  const names = context.inputs.map((v) =>
    layout === 'channels-first' ? context.channelsFirst(v) : context.channelsLast(v),
  );
  return { names, layout };
}

const concatenate: Converter = (context) => {
  const { names, layout } = alignedInputs(context);
  const rank = context.outputShape.length;
  const kerasAxis = numberConfig(context, 'axis', -1);
  const axis =
    layout === 'channels-first'
      ? channelsFirstAxis(kerasAxis, rank)
      : normaliseAxis(kerasAxis, rank);
  const out = context.graph.op('Concat', names, { name: context.name, attributes: { axis } });
  return { name: out, layout, shape: context.outputShape };
};

/** Element-wise merges: a chain of binary ONNX ops (average divides the sum). */
function elementwise(op: 'Add' | 'Mul' | 'Max' | 'Min', average = false): Converter {
  return (context) => {
    const { names, layout } = alignedInputs(context);
    const { graph, name } = context;
    let out = names.reduce((acc, next) => graph.op(op, [acc, next], { name }));
    if (average) {
      const count = graph.floatInitializer(`${name}/count`, [], Float32Array.of(names.length));
      out = graph.op('Div', [out, count], { name });
    }
    return { name: out, layout, shape: context.outputShape };
  };
}

/** PReLU: a learned slope per element (shared axes have extent 1), broadcast channels-last. */
const prelu: Converter = (context) => {
  const input = onlyInput(context);
  const { graph, name } = context;
  const alpha = context.requireWeight('alpha');
  const slope = graph.floatInitializer(`${name}/alpha`, alpha.shape, alpha.values);
  const out = graph.op('PRelu', [context.channelsLast(input), slope], { name });
  return { name: out, layout: 'channels-last', shape: context.outputShape };
};

/**
 * LayerNormalization over trailing axes (the usual last axis): ONNX's LayerNormalization
 * (opset 17) normalises over every axis from `axis` on, so other axis sets are refused.
 */
const layerNormalization: Converter = (context) => {
  const input = onlyInput(context);
  const { graph, name } = context;
  const rank = input.shape.length;
  const axisConfig = context.config.axis ?? -1;
  const axes = (Array.isArray(axisConfig) ? axisConfig : [axisConfig]).map((a) =>
    normaliseAxis(a as number, rank),
  );
  axes.sort((a, b) => a - b);
  const first = axes[0] as number;
  if (axes.some((a, i) => a !== first + i) || axes[axes.length - 1] !== rank - 1) {
    throw context.unsupported(`axis ${JSON.stringify(axisConfig)} (only trailing axes)`);
  }
  const normalised = input.shape.slice(first) as number[];
  const size = normalised.reduce((a, b) => a * b, 1);
  const gamma = context.weight('gamma')?.values ?? new Float32Array(size).fill(1);
  const beta = context.weight('beta')?.values ?? new Float32Array(size);
  const out = graph.op(
    'LayerNormalization',
    [
      context.channelsLast(input),
      graph.floatInitializer(`${name}/gamma`, normalised, gamma),
      graph.floatInitializer(`${name}/beta`, normalised, beta),
    ],
    { name, attributes: { axis: first, epsilon: float(numberConfig(context, 'epsilon', 1e-3)) } },
  );
  return { name: out, layout: 'channels-last', shape: context.outputShape };
};

/** Permute: Keras's 1-based dims (batch excluded) as a Transpose of the TF.js layout. */
const permuteLayer: Converter = (context) => {
  const input = onlyInput(context);
  const dims = context.config.dims;
  if (!Array.isArray(dims) || !dims.every((d) => typeof d === 'number')) {
    throw context.unsupported(`dims ${JSON.stringify(dims)}`);
  }
  const out = context.graph.op('Transpose', [context.channelsLast(input)], {
    name: context.name,
    attributes: { perm: [0, ...(dims as number[])] },
  });
  return { name: out, layout: 'channels-last', shape: context.outputShape };
};

/** RepeatVector: (N, F) -> (N, n, F). */
const repeatVector: Converter = (context) => {
  const input = onlyInput(context);
  const { graph, name } = context;
  const n = numberConfig(context, 'n');
  const axes = graph.int64Initializer(`${name}/axes`, [1]);
  const expanded = graph.op('Unsqueeze', [context.channelsLast(input), axes], { name });
  const repeats = graph.int64Initializer(`${name}/repeats`, [1, n, 1]);
  const out = graph.op('Tile', [expanded, repeats], { name });
  return { name: out, layout: 'channels-last', shape: context.outputShape };
};

export const coreConverters: Record<string, Converter> = {
  PReLU: prelu,
  LayerNormalization: layerNormalization,
  Permute: permuteLayer,
  RepeatVector: repeatVector,
  InputLayer: identity,
  Dropout: identity,
  SpatialDropout1D: identity,
  SpatialDropout2D: identity,
  AlphaDropout: identity,
  GaussianDropout: identity,
  GaussianNoise: identity,
  Dense: dense,
  Flatten: flatten,
  Reshape: reshape,
  Activation: activation,
  ReLU: relu,
  LeakyReLU: leakyRelu,
  ELU: elu,
  Softmax: softmax,
  BatchNormalization: batchNormalization,
  Concatenate: concatenate,
  Add: elementwise('Add'),
  Multiply: elementwise('Mul'),
  Maximum: elementwise('Max'),
  Minimum: elementwise('Min'),
  Average: elementwise('Add', true),
};
