/**
 * Keras recurrent layers as one ONNX recurrent node each: LSTM, GRU and SimpleRNN map to
 * ONNX's LSTM, GRU and RNN ops, and Bidirectional over one of them to the same op run in
 * both directions. Keras packs the gates as column blocks of `kernel`
 * (input x g*u) and `recurrent_kernel` (u x g*u); ONNX wants them as row blocks of W
 * (g*u x input) and R (g*u x u), in its own gate order, and the bias twice (Wb, Rb): the
 * whole Keras bias goes into Wb and Rb is zero, which is exact for TF.js's cells (its GRU
 * has no reset_after, i.e. ONNX's linear_before_reset = 0).
 *
 * Gate orders: LSTM Keras [i, f, c, o] -> ONNX [i, o, f, c]; GRU Keras [z, r, h] = ONNX
 * [z, r, h]. Activations: ONNX's f is the gate (recurrent) activation, g and h the cell
 * activation, exactly Keras's recurrentActivation and activation.
 */
import { rnnActivation, type RnnActivation } from './activations.ts';
import { onlyInput, type ConvertContext, type Converter, type LayerWeight } from './context.ts';

interface CellKind {
  op: 'LSTM' | 'GRU' | 'RNN';
  /** For each ONNX gate slot, the Keras gate block it comes from. */
  kerasGateForOnnx: readonly number[];
  activations(context: ConvertContext, config: Record<string, unknown>): RnnActivation[];
}

/**
 * Keras (rows x g*u, gates along columns) -> ONNX (g*u x rows, gates along rows, reordered):
 * out[k*u + j][r] = in[r][kerasGateForOnnx[k]*u + j].
 */
function gateMatrix(weight: LayerWeight, units: number, order: readonly number[]): Float32Array {
  const [rows, columns] = weight.shape as [number, number];
  const out = new Float32Array(rows * columns);
  order.forEach((from, k) => {
    for (let j = 0; j < units; j++) {
      for (let r = 0; r < rows; r++) {
        out[(k * units + j) * rows + r] = weight.values[r * columns + from * units + j] as number;
      }
    }
  });
  return out;
}

function gateBias(bias: Float32Array, units: number, order: readonly number[]): Float32Array {
  const out = new Float32Array(2 * order.length * units); // [Wb | Rb = 0]
  order.forEach((from, k) => out.set(bias.subarray(from * units, (from + 1) * units), k * units));
  return out;
}

function refuseStatefulOptions(context: ConvertContext, config: Record<string, unknown>): void {
  if (config.returnState === true) {
    throw context.unsupported('returnState: true (the exporter writes one output per layer)');
  }
  if (config.goBackwards === true) throw context.unsupported('goBackwards: true');
  if (config.stateful === true) throw context.unsupported('stateful: true');
}

/** One direction's W, R and B in ONNX order, from weights named `${prefix}kernel` etc. */
function directionWeights(context: ConvertContext, kind: CellKind, units: number, prefix: string) {
  const gates = kind.kerasGateForOnnx.length;
  const order = kind.kerasGateForOnnx;
  const kernel = context.requireWeight(`${prefix}kernel`);
  const recurrentKernel = context.requireWeight(`${prefix}recurrent_kernel`);
  const bias = context.weight(`${prefix}bias`)?.values ?? new Float32Array(gates * units);
  return {
    features: kernel.shape[0] as number,
    w: gateMatrix(kernel, units, order),
    r: gateMatrix(recurrentKernel, units, order),
    b: gateBias(bias, units, order),
  };
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * Adds the ONNX recurrent node over a (N, T, F) value and returns Y (T, D, N, u) and
 * Y_h (D, N, u), D = 1 forward or 2 bidirectional.
 */
function recurrentNode(
  context: ConvertContext,
  kind: CellKind,
  config: Record<string, unknown>,
  prefixes: readonly string[],
): { y: string; yH: string } {
  const input = onlyInput(context);
  refuseStatefulOptions(context, config);
  if (input.shape.length !== 3) {
    throw context.unsupported(
      `a rank-${input.shape.length} input (expected batch, time, features)`,
    );
  }
  const { graph, name } = context;
  const units = config.units;
  if (typeof units !== 'number') throw context.unsupported(`units ${JSON.stringify(units)}`);
  const gates = kind.kerasGateForOnnx.length;
  const directions = prefixes.map((prefix) => directionWeights(context, kind, units, prefix));
  const d = directions.length;
  const features = (directions[0] as { features: number }).features;
  const w = graph.floatInitializer(
    `${name}/W`,
    [d, gates * units, features],
    concat(directions.map((x) => x.w)),
  );
  const r = graph.floatInitializer(
    `${name}/R`,
    [d, gates * units, units],
    concat(directions.map((x) => x.r)),
  );
  const b = graph.floatInitializer(
    `${name}/B`,
    [d, 2 * gates * units],
    concat(directions.map((x) => x.b)),
  );

  const perDirection = kind.activations(context, config);
  const activations = prefixes.flatMap(() => perDirection);
  // alpha/beta are consumed in activation order by the functions that take them.
  const alphas = activations.flatMap((a) => (a.alpha === undefined ? [] : [a.alpha]));
  const betas = activations.flatMap((a) => (a.beta === undefined ? [] : [a.beta]));

  // Keras is batch-major (N, T, F); ONNX's default layout is time-major (T, N, F).
  const timeMajor = graph.op('Transpose', [context.channelsLast(input)], {
    name,
    attributes: { perm: [1, 0, 2] },
  });
  const [y, yH] = graph.node(kind.op, [timeMajor, w, r, b], 2, {
    name,
    attributes: {
      hidden_size: units,
      direction: d === 2 ? 'bidirectional' : 'forward',
      activations: activations.map((a) => a.name),
      ...(alphas.length > 0 ? { activation_alpha: { floats: alphas } } : {}),
      ...(betas.length > 0 ? { activation_beta: { floats: betas } } : {}),
    },
  }) as [string, string];
  return { y, yH };
}

function recurrent(kind: CellKind): Converter {
  return (context) => {
    const { graph, name, config } = context;
    const { y, yH } = recurrentNode(context, kind, config, ['']);
    let out: string;
    if (config.returnSequences === true) {
      // Y is (T, 1, N, u): drop the direction axis, back to batch-major (N, T, u).
      const axes = graph.int64Initializer(`${name}/axes`, [1]);
      const squeezed = graph.op('Squeeze', [y, axes], { name });
      out = graph.op('Transpose', [squeezed], { name, attributes: { perm: [1, 0, 2] } });
    } else {
      // Y_h is (1, N, u): the last step's output.
      const axes = graph.int64Initializer(`${name}/axes`, [0]);
      out = graph.op('Squeeze', [yH, axes], { name });
    }
    return { name: out, layout: 'channels-last', shape: context.outputShape };
  };
}

/**
 * Bidirectional(LSTM | GRU | SimpleRNN) as one bidirectional ONNX node. ONNX's reverse
 * direction is aligned with the input steps, as Keras re-reverses the backward sequence;
 * its final state (Y_h[1]) is the backward layer's output after reading step 0. The two
 * directions are merged as Keras's mergeMode says: concat (forward first), sum, mul, ave.
 */
const bidirectional: Converter = (context) => {
  const { graph, name } = context;
  const inner = context.config.layer as { className?: string; config?: Record<string, unknown> };
  const kind = inner?.className ? cellKinds[inner.className] : undefined;
  if (!kind || !inner.config) {
    throw context.unsupported(
      `a wrapped ${String(inner?.className)} layer (LSTM, GRU or SimpleRNN only)`,
    );
  }
  const mergeMode = context.config.mergeMode ?? 'concat';
  if (!['concat', 'sum', 'mul', 'ave'].includes(String(mergeMode))) {
    throw context.unsupported(`mergeMode ${JSON.stringify(mergeMode)}`);
  }
  const { y, yH } = recurrentNode(context, kind, inner.config, ['forward/', 'backward/']);
  const sequences = inner.config.returnSequences === true;
  // Batch-major with the direction axis just before the units: (N, [T,] 2, u).
  const stacked = sequences
    ? graph.op('Transpose', [y], { name, attributes: { perm: [2, 0, 1, 3] } })
    : graph.op('Transpose', [yH], { name, attributes: { perm: [1, 0, 2] } });
  const directionAxis = sequences ? 2 : 1;
  let out: string;
  if (mergeMode === 'concat') {
    const shape = graph.int64Initializer(`${name}/shape`, sequences ? [0, 0, -1] : [0, -1]);
    out = graph.op('Reshape', [stacked, shape], { name });
  } else if (mergeMode === 'sum') {
    const axes = graph.int64Initializer(`${name}/axes`, [directionAxis]);
    out = graph.op('ReduceSum', [stacked, axes], { name, attributes: { keepdims: 0 } });
  } else {
    // Opset 17's ReduceProd and ReduceMean still take their axes as an attribute.
    out = graph.op(mergeMode === 'mul' ? 'ReduceProd' : 'ReduceMean', [stacked], {
      name,
      attributes: { axes: [directionAxis], keepdims: 0 },
    });
  }
  return { name: out, layout: 'channels-last', shape: context.outputShape };
};

const gateAndCell = (context: ConvertContext, config: Record<string, unknown>) => ({
  gate: rnnActivation(context, config.recurrentActivation ?? 'hardSigmoid'),
  cell: rnnActivation(context, config.activation ?? 'tanh'),
});

const cellKinds: Record<string, CellKind> = {
  LSTM: {
    op: 'LSTM',
    kerasGateForOnnx: [0, 3, 1, 2],
    activations(context, config) {
      const { gate, cell } = gateAndCell(context, config);
      return [gate, cell, cell];
    },
  },
  GRU: {
    op: 'GRU',
    kerasGateForOnnx: [0, 1, 2],
    activations(context, config) {
      const { gate, cell } = gateAndCell(context, config);
      return [gate, cell];
    },
  },
  SimpleRNN: {
    op: 'RNN',
    kerasGateForOnnx: [0],
    activations: (context, config) => [rnnActivation(context, config.activation ?? 'tanh')],
  },
};

export const recurrentConverters: Record<string, Converter> = {
  LSTM: recurrent(cellKinds.LSTM as CellKind),
  GRU: recurrent(cellKinds.GRU as CellKind),
  SimpleRNN: recurrent(cellKinds.SimpleRNN as CellKind),
  Bidirectional: bidirectional,
};
