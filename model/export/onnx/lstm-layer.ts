/**
 * The Keras LSTM layer as one ONNX LSTM node. Keras packs the four gates as columns
 * [i | f | c | o] of `kernel` (input x 4u) and `recurrent_kernel` (u x 4u); ONNX wants rows
 * in the order [i | o | f | c] of W (4u x input) and R (4u x u), and the bias twice (Wb, Rb),
 * so the whole Keras bias goes into Wb and Rb is zero. ONNX's f is the recurrent (gate)
 * activation, g and h the cell activation, exactly Keras's recurrentActivation/activation.
 */
import { rnnActivation } from './activations.ts';
import { onlyInput, type ConvertContext, type Converter, type LayerWeight } from './context.ts';

/** For each ONNX gate slot (i, o, f, c), the Keras gate block it comes from (i=0, f=1, c=2, o=3). */
const KERAS_GATE_FOR_ONNX = [0, 3, 1, 2] as const;

/**
 * Keras (rows x 4u, gates along columns) -> ONNX (4u x rows, gates along rows, reordered):
 * out[g*u + j][r] = in[r][KERAS_GATE_FOR_ONNX[g]*u + j].
 */
function gateMatrix(weight: LayerWeight, units: number): Float32Array {
  const [rows, columns] = weight.shape as [number, number];
  const out = new Float32Array(rows * columns);
  for (let g = 0; g < 4; g++) {
    const from = (KERAS_GATE_FOR_ONNX[g] as number) * units;
    for (let j = 0; j < units; j++) {
      for (let r = 0; r < rows; r++) {
        out[(g * units + j) * rows + r] = weight.values[r * columns + from + j] as number;
      }
    }
  }
  return out;
}

function gateBias(bias: Float32Array, units: number): Float32Array {
  const out = new Float32Array(8 * units); // [Wb (4u) | Rb (4u) = 0]
  for (let g = 0; g < 4; g++) {
    out.set(
      bias.subarray(
        (KERAS_GATE_FOR_ONNX[g] as number) * units,
        ((KERAS_GATE_FOR_ONNX[g] as number) + 1) * units,
      ),
      g * units,
    );
  }
  return out;
}

function refuseStatefulOptions(context: ConvertContext): void {
  const { config } = context;
  if (config.returnState === true)
    throw context.unsupported('returnState: true (the exporter writes one output per layer)');
  if (config.goBackwards === true) throw context.unsupported('goBackwards: true');
  if (config.stateful === true) throw context.unsupported('stateful: true');
}

const lstm: Converter = (context) => {
  const input = onlyInput(context);
  refuseStatefulOptions(context);
  if (input.shape.length !== 3)
    throw context.unsupported(
      `a rank-${input.shape.length} input (expected batch, time, features)`,
    );
  const { graph, name, config } = context;
  const units = config.units;
  if (typeof units !== 'number') throw context.unsupported(`units ${JSON.stringify(units)}`);
  const kernel = context.requireWeight('kernel');
  const recurrent = context.requireWeight('recurrent_kernel');
  const features = kernel.shape[0] as number;
  const bias = context.weight('bias')?.values ?? new Float32Array(4 * units);

  const w = graph.floatInitializer(
    `${name}/W`,
    [1, 4 * units, features],
    gateMatrix(kernel, units),
  );
  const r = graph.floatInitializer(
    `${name}/R`,
    [1, 4 * units, units],
    gateMatrix(recurrent, units),
  );
  const b = graph.floatInitializer(`${name}/B`, [1, 8 * units], gateBias(bias, units));

  const gate = rnnActivation(context, config.recurrentActivation ?? 'hardSigmoid');
  const cell = rnnActivation(context, config.activation ?? 'tanh');
  const activations = [gate, cell, cell];
  // alpha/beta are consumed in activation order by the functions that take them.
  const alphas = activations.flatMap((a) => (a.alpha === undefined ? [] : [a.alpha]));
  const betas = activations.flatMap((a) => (a.beta === undefined ? [] : [a.beta]));

  // Keras is batch-major (N, T, F); the ONNX LSTM's default layout is time-major (T, N, F).
  const timeMajor = graph.op('Transpose', [context.channelsLast(input)], {
    name,
    attributes: { perm: [1, 0, 2] },
  });
  const [y, yH] = graph.node('LSTM', [timeMajor, w, r, b], 2, {
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

export const recurrentConverters: Record<string, Converter> = { LSTM: lstm };
