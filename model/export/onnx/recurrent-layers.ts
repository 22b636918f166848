/**
 * Keras recurrent layers as one ONNX recurrent node each: LSTM, GRU and SimpleRNN map to
 * ONNX's LSTM, GRU and RNN ops. Keras packs the gates as column blocks of `kernel`
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
  activations(context: ConvertContext): RnnActivation[];
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

function refuseStatefulOptions(context: ConvertContext): void {
  const { config } = context;
  if (config.returnState === true) {
    throw context.unsupported('returnState: true (the exporter writes one output per layer)');
  }
  if (config.goBackwards === true) throw context.unsupported('goBackwards: true');
  if (config.stateful === true) throw context.unsupported('stateful: true');
}

function recurrent(kind: CellKind): Converter {
  return (context) => {
    const input = onlyInput(context);
    refuseStatefulOptions(context);
    if (input.shape.length !== 3) {
      throw context.unsupported(
        `a rank-${input.shape.length} input (expected batch, time, features)`,
      );
    }
    const { graph, name, config } = context;
    const units = config.units;
    if (typeof units !== 'number') throw context.unsupported(`units ${JSON.stringify(units)}`);
    const gates = kind.kerasGateForOnnx.length;
    const kernel = context.requireWeight('kernel');
    const recurrentKernel = context.requireWeight('recurrent_kernel');
    const features = kernel.shape[0] as number;
    const bias = context.weight('bias')?.values ?? new Float32Array(gates * units);
    const order = kind.kerasGateForOnnx;
    const w = graph.floatInitializer(
      `${name}/W`,
      [1, gates * units, features],
      gateMatrix(kernel, units, order),
    );
    const r = graph.floatInitializer(
      `${name}/R`,
      [1, gates * units, units],
      gateMatrix(recurrentKernel, units, order),
    );
    const b = graph.floatInitializer(
      `${name}/B`,
      [1, 2 * gates * units],
      gateBias(bias, units, order),
    );

    const activations = kind.activations(context);
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
        direction: 'forward',
        activations: activations.map((a) => a.name),
        ...(alphas.length > 0 ? { activation_alpha: { floats: alphas } } : {}),
        ...(betas.length > 0 ? { activation_beta: { floats: betas } } : {}),
      },
    }) as [string, string];

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

const gateAndCell = (context: ConvertContext) => ({
  gate: rnnActivation(context, context.config.recurrentActivation ?? 'hardSigmoid'),
  cell: rnnActivation(context, context.config.activation ?? 'tanh'),
});

export const recurrentConverters: Record<string, Converter> = {
  LSTM: recurrent({
    op: 'LSTM',
    kerasGateForOnnx: [0, 3, 1, 2],
    activations(context) {
      const { gate, cell } = gateAndCell(context);
      return [gate, cell, cell];
    },
  }),
  GRU: recurrent({
    op: 'GRU',
    kerasGateForOnnx: [0, 1, 2],
    activations(context) {
      const { gate, cell } = gateAndCell(context);
      return [gate, cell];
    },
  }),
  SimpleRNN: recurrent({
    op: 'RNN',
    kerasGateForOnnx: [0],
    activations: (context) => [rnnActivation(context, context.config.activation ?? 'tanh')],
  }),
};
