/**
 * Test support: run an exported model on ONNX Runtime (onnxruntime-node, the runtime the
 * ONNX engine serves with) and compare it with the TF.js model on the same input.
 */
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';

export interface Comparison {
  maxAbsDiff: number;
  tfjs: Float32Array;
  onnx: Float32Array;
  onnxShape: readonly number[];
}

/**
 * Runs `bytes` on ONNX Runtime with input `x` (channels-last, as TF.js takes it; several
 * inputs in the model's input order) and returns the first output.
 */
export async function runOnnx(
  bytes: Uint8Array,
  x: tf.Tensor | tf.Tensor[],
): Promise<{ data: Float32Array; dims: readonly number[]; session: ort.InferenceSession }> {
  const session = await ort.InferenceSession.create(bytes);
  const inputs = Array.isArray(x) ? x : [x];
  if (inputs.length !== session.inputNames.length) {
    throw new Error(`${inputs.length} inputs for a graph with ${session.inputNames.length}`);
  }
  const feeds = Object.fromEntries(
    inputs.map((t, i) => [
      session.inputNames[i] as string,
      new ort.Tensor('float32', Float32Array.from(t.dataSync()), t.shape),
    ]),
  );
  const outputName = session.outputNames[0] as string;
  const result = await session.run(feeds);
  const output = result[outputName] as ort.Tensor;
  return { data: output.data as Float32Array, dims: output.dims, session };
}

/** TF.js's prediction and ONNX Runtime's on the same input, and their largest difference. */
export async function compareWithTfjs(
  model: tf.LayersModel,
  bytes: Uint8Array,
  x: tf.Tensor | tf.Tensor[],
): Promise<Comparison> {
  const predicted = model.predict(x) as tf.Tensor;
  const tfjs = Float32Array.from(predicted.dataSync());
  predicted.dispose();
  const { data: onnx, dims, session } = await runOnnx(bytes, x);
  await session.release();
  if (onnx.length !== tfjs.length) {
    throw new Error(`ONNX Runtime answered ${onnx.length} values, TF.js ${tfjs.length}`);
  }
  let maxAbsDiff = 0;
  for (let i = 0; i < tfjs.length; i++) {
    const d = Math.abs((tfjs[i] as number) - (onnx[i] as number));
    // NaN must fail the comparison, not vanish in Math.max.
    maxAbsDiff = Number.isNaN(d) ? Infinity : Math.max(maxAbsDiff, d);
  }
  return { maxAbsDiff, tfjs, onnx, onnxShape: dims };
}

/**
 * Replaces every weight with random values (moving variances positive), so a test of an
 * untrained architecture exercises non-trivial batch-norm statistics and biases too.
 */
export function randomizeWeights(model: tf.LayersModel, seed: number): void {
  const weights = model.weights.map((variable, i) => {
    const role = variable.originalName ?? variable.name;
    const shape = variable.shape as number[]; // a variable's shape is fully known
    if (role.includes('moving_variance')) {
      return tf.randomUniform(shape, 0.5, 1.5, 'float32', seed + i);
    }
    if (role.includes('gamma')) return tf.randomUniform(shape, 0.5, 1.5, 'float32', seed + i);
    return tf.randomNormal(shape, 0, 0.2, 'float32', seed + i);
  });
  model.setWeights(weights);
  tf.dispose(weights);
}
