/**
 * The TF.js runtime: layers models from `model.json` + weight shards (`modelFromFiles`), run
 * on the worker's TF.js backend (tfjs-node or wasm, brought up by the worker at start).
 *
 * A model of several inputs or outputs (a functional model) is fed and read in its own order;
 * the names are the manifest's (`RuntimeSpec.inputs` / `outputs`, which the importer took
 * from this model in this order), else the model's own.
 */
import * as tf from '@tensorflow/tfjs';
import { MscrError } from '../../connectors/errors.ts';
import { modelFromFiles } from '../../connectors/ms/artifacts.ts';
import { dim, owned, type ModelRuntime, type RuntimeModel } from './runtime.ts';

function namesFor(
  key: string,
  what: 'inputs' | 'outputs',
  own: string[],
  given: string[] | undefined,
): string[] {
  if (given === undefined) return own;
  if (given.length !== own.length) {
    throw new MscrError(
      'integrity',
      `model ${key} has ${own.length} ${what} (${own.join(', ')}); the manifest names ${given.length} (${given.join(', ')})`,
    );
  }
  return given;
}

export const tfjsRuntime: ModelRuntime = {
  async load(key, files, spec) {
    const model = await modelFromFiles(files);
    let inputNames: string[];
    let outputNames: string[];
    try {
      // Layer names where the model has them (`a`, `sum`), else tensor names.
      const own = (tensors: tf.SymbolicTensor[], names: string[]) =>
        tensors.map((t, i) => names[i] ?? t.name);
      inputNames = namesFor(key, 'inputs', own(model.inputs, model.inputNames), spec.inputs);
      outputNames = namesFor(key, 'outputs', own(model.outputs, model.outputNames), spec.outputs);
    } catch (error) {
      model.dispose();
      throw error;
    }
    const served: RuntimeModel = {
      signature: {
        inputShape: (model.inputs[0]?.shape ?? []).map(dim),
        outputShape: (model.outputs[0]?.shape ?? []).map(dim),
        inputs: model.inputs.map((t, i) => ({
          name: inputNames[i] as string,
          shape: t.shape.map(dim),
        })),
        outputs: model.outputs.map((t, i) => ({
          name: outputNames[i] as string,
          shape: t.shape.map(dim),
        })),
      },
      run(inputs) {
        const rows = inputs[0]?.shape[0] ?? 1;
        // In the model's order, by name; a single input is the one tensor, whatever its name.
        const ordered = inputNames.map((name) => {
          const found = inputNames.length === 1 ? inputs[0] : inputs.find((t) => t.name === name);
          if (found === undefined) throw new MscrError('bad_request', `no input ${name}`);
          return found;
        });
        return Promise.resolve(
          tf.tidy(() => {
            const xs = ordered.map((t) => tf.tensor(t.data, t.shape, 'float32'));
            // batchSize = rows: one pass, not tfjs' default chunks of 32.
            const y = model.predict(xs.length === 1 ? (xs[0] as tf.Tensor) : xs, {
              batchSize: Math.max(1, rows),
            });
            const ys = Array.isArray(y) ? y : [y];
            return ys.map((t, i) => ({
              name: outputNames[i] ?? `output_${i}`,
              data: owned(t.dataSync() as Float32Array),
              shape: t.shape.slice(),
            }));
          }),
        );
      },
      dispose() {
        model.dispose();
        return Promise.resolve();
      },
    };
    return served;
  },
};
