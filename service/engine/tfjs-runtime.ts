/**
 * The TF.js runtime: layers models from `model.json` + weight shards (`modelFromFiles`), run
 * on the worker's TF.js backend (tfjs-node or wasm, brought up by the worker at start).
 */
import * as tf from '@tensorflow/tfjs';
import { MscrError } from '../../connectors/errors.ts';
import { modelFromFiles } from '../../connectors/ms/artifacts.ts';
import { dim, owned, type ModelRuntime, type RuntimeModel } from './runtime.ts';

export const tfjsRuntime: ModelRuntime = {
  async load(key, files) {
    const model = await modelFromFiles(files);
    const input = model.inputs.length === 1 ? model.inputs[0] : undefined;
    const output = model.outputs.length === 1 ? model.outputs[0] : undefined;
    if (input === undefined || output === undefined) {
      model.dispose();
      throw new MscrError(
        'bad_request',
        `model ${key} has ${model.inputs.length} inputs and ${model.outputs.length} outputs; ` +
          'the engine serves single-input, single-output models',
      );
    }
    const served: RuntimeModel = {
      signature: { inputShape: input.shape.map(dim), outputShape: output.shape.map(dim) },
      run(data, shape) {
        const rows = shape[0] ?? 1;
        return Promise.resolve(
          tf.tidy(() => {
            const x = tf.tensor(data, shape, 'float32');
            // batchSize = rows: one pass, not tfjs' default chunks of 32.
            const y = model.predict(x, { batchSize: Math.max(1, rows) });
            if (Array.isArray(y)) {
              throw new MscrError('internal', `model ${key} returned several outputs`);
            }
            return { output: owned(y.dataSync() as Float32Array), shape: y.shape.slice() };
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
