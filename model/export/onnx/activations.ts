/**
 * TF.js activation functions as ONNX nodes, with TF.js's own constants (hard sigmoid is
 * clip(0.2x + 0.5, 0, 1) in TF.js, not PyTorch's x/6 + 1/2; ELU's alpha is 1).
 */
import { float } from './graph-builder.ts';
import type { ConvertContext, Value } from './context.ts';
import { channelsFirstAxis } from './tensor-layout.ts';

/** TF.js writes names camelCase in getConfig() and snake_case in model.json; compare both. */
export function activationKey(name: unknown): string {
  return typeof name === 'string' ? name.replace(/_/g, '').toLowerCase() : String(name);
}

/** The axis a softmax over the Keras last axis uses in the value's layout. */
function lastAxis(value: Value): number {
  const rank = value.shape.length;
  return value.layout === 'channels-first' ? channelsFirstAxis(-1, rank) : rank - 1;
}

/**
 * Applies a TF.js activation to a value (an element-wise op keeps the value's layout;
 * softmax follows the Keras last axis into it). Unknown names are refused, naming the layer.
 */
export function applyActivation(context: ConvertContext, value: Value, activation: unknown): Value {
  const { graph } = context;
  const x = value.name;
  const base = { name: context.name };
  const key = activationKey(activation ?? 'linear');
  const scalar = (v: number) =>
    graph.floatInitializer(`${context.name}/const`, [], Float32Array.of(v));
  let out: string;
  switch (key) {
    case 'linear':
      return value;
    case 'relu':
      out = graph.op('Relu', [x], base);
      break;
    case 'relu6':
      out = graph.op('Clip', [x, scalar(0), scalar(6)], base);
      break;
    case 'elu':
      out = graph.op('Elu', [x], { ...base, attributes: { alpha: float(1) } });
      break;
    case 'selu':
      // TF.js's constants (tf.selu), the same as ONNX's defaults to float32 precision.
      out = graph.op('Selu', [x], {
        ...base,
        attributes: { alpha: float(1.6732632423543772), gamma: float(1.0507009873554802) },
      });
      break;
    case 'sigmoid':
      out = graph.op('Sigmoid', [x], base);
      break;
    case 'hardsigmoid':
      out = graph.op('HardSigmoid', [x], {
        ...base,
        attributes: { alpha: float(0.2), beta: float(0.5) },
      });
      break;
    case 'tanh':
      out = graph.op('Tanh', [x], base);
      break;
    case 'softplus':
      out = graph.op('Softplus', [x], base);
      break;
    case 'softsign':
      out = graph.op('Softsign', [x], base);
      break;
    case 'softmax':
      out = graph.op('Softmax', [x], { ...base, attributes: { axis: lastAxis(value) } });
      break;
    case 'logsoftmax':
      out = graph.op('LogSoftmax', [x], { ...base, attributes: { axis: lastAxis(value) } });
      break;
    case 'swish':
      out = graph.op('Mul', [x, graph.op('Sigmoid', [x], base)], base);
      break;
    case 'mish': {
      const softplus = graph.op('Softplus', [x], base);
      out = graph.op('Mul', [x, graph.op('Tanh', [softplus], base)], base);
      break;
    }
    case 'gelu': {
      // TF.js 'gelu' is the exact form 0.5 x (1 + erf(x / sqrt 2)).
      const erf = graph.op('Erf', [graph.op('Mul', [x, scalar(Math.SQRT1_2)], base)], base);
      const onePlus = graph.op('Add', [erf, scalar(1)], base);
      out = graph.op('Mul', [graph.op('Mul', [x, scalar(0.5)], base), onePlus], base);
      break;
    }
    case 'gelunew': {
      // TF.js 'gelu_new' is the tanh form 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
      const cube = graph.op('Mul', [graph.op('Mul', [x, x], base), x], base);
      const inner = graph.op('Add', [x, graph.op('Mul', [cube, scalar(0.044715)], base)], base);
      const scaled = graph.op('Mul', [inner, scalar(Math.sqrt(2 / Math.PI))], base);
      const onePlus = graph.op('Add', [graph.op('Tanh', [scaled], base), scalar(1)], base);
      out = graph.op('Mul', [graph.op('Mul', [x, scalar(0.5)], base), onePlus], base);
      break;
    }
    default:
      throw context.unsupported(`activation '${String(activation)}'`);
  }
  return { ...value, name: out };
}

/** An ONNX RNN activation (name plus the alpha/beta it consumes), from a TF.js name. */
export interface RnnActivation {
  name: string;
  alpha?: number;
  beta?: number;
}

/** The TF.js activations an ONNX LSTM cell can run natively. */
export function rnnActivation(context: ConvertContext, activation: unknown): RnnActivation {
  switch (activationKey(activation ?? 'linear')) {
    case 'tanh':
      return { name: 'Tanh' };
    case 'sigmoid':
      return { name: 'Sigmoid' };
    case 'hardsigmoid':
      return { name: 'HardSigmoid', alpha: 0.2, beta: 0.5 };
    case 'relu':
      return { name: 'Relu' };
    case 'linear':
      return { name: 'Affine', alpha: 1, beta: 0 };
    case 'elu':
      return { name: 'Elu', alpha: 1 };
    case 'softsign':
      return { name: 'Softsign' };
    case 'softplus':
      return { name: 'Softplus' };
    default:
      throw context.unsupported(`recurrent cell activation '${String(activation)}'`);
  }
}
