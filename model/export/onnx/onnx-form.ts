/**
 * The ONNX form of a freshly trained version: exported, then checked against the TF.js model
 * on real held-out inputs before it may be published beside it. A form that cannot be made
 * (a layer the exporter does not know) or that does not reproduce the TF.js outputs within
 * `tolerance` is left out with the reason, and the version serves on TF.js as before.
 */
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import type { EngineArtifact, TensorSpec } from '../../../connectors/ms/manifest.ts';
import { errorMessage } from '../../../connectors/errors.ts';
import { exportLayersModelToOnnx } from './exporter.ts';
import { onnxArtifactName, signatureNames } from './signature.ts';

export interface OnnxFormOptions {
  /** Largest absolute difference allowed between the two engines' outputs. Default 1e-4. */
  tolerance?: number;
  /** Rows of `sample` compared; default 16. */
  rows?: number;
}

export type OnnxForm =
  | { ok: true; file: string; bytes: Uint8Array; artifact: EngineArtifact; maxAbsDiff: number }
  | { ok: false; reason: string };

/**
 * Exports `model` under the signature's names and compares ONNX Runtime with TF.js on the
 * first rows of `sample` (held-out inputs, already preprocessed as the model takes them).
 */
export async function verifiedOnnxForm(
  model: tf.LayersModel,
  signature: { inputs: readonly TensorSpec[]; outputs: readonly TensorSpec[] },
  sample: tf.Tensor,
  options: OnnxFormOptions = {},
): Promise<OnnxForm> {
  const tolerance = options.tolerance ?? 1e-4;
  const input = signature.inputs[0];
  const output = signature.outputs[0];
  if (signature.inputs.length !== 1 || signature.outputs.length !== 1 || !input || !output) {
    return { ok: false, reason: 'only single-input, single-output models get an ONNX form' };
  }
  let bytes: Uint8Array;
  try {
    bytes = exportLayersModelToOnnx(model, signatureNames(signature));
  } catch (error) {
    return { ok: false, reason: `export: ${errorMessage(error)}` };
  }
  const rows = Math.min(options.rows ?? 16, sample.shape[0] ?? 0);
  if (rows === 0) return { ok: false, reason: 'no held-out rows to check the export on' };
  const x = tf.slice(sample, 0, rows);
  const expected = tf.tidy(() => model.predict(x) as tf.Tensor);
  let session: ort.InferenceSession | undefined;
  try {
    const data = Float32Array.from(await x.data());
    session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
    const feeds = { [input.name]: new ort.Tensor('float32', data, x.shape) };
    const result = await session.run(feeds);
    const actual = result[output.name]?.data;
    const wanted = await expected.data();
    if (!(actual instanceof Float32Array) || actual.length !== wanted.length) {
      return { ok: false, reason: `the ONNX graph's ${output.name} output has the wrong size` };
    }
    let maxAbsDiff = 0;
    for (let i = 0; i < wanted.length; i++) {
      const diff = Math.abs((actual[i] as number) - (wanted[i] as number));
      if (!(diff <= maxAbsDiff)) maxAbsDiff = Number.isNaN(diff) ? Infinity : diff;
    }
    if (maxAbsDiff > tolerance) {
      return {
        ok: false,
        reason: `ONNX Runtime differs from TF.js by ${maxAbsDiff} on held-out inputs (tolerance ${tolerance})`,
      };
    }
    return {
      ok: true,
      file: onnxArtifactName,
      bytes,
      artifact: { file: onnxArtifactName, input: input.name, output: output.name },
      maxAbsDiff,
    };
  } catch (error) {
    return { ok: false, reason: `ONNX Runtime could not run the export: ${errorMessage(error)}` };
  } finally {
    tf.dispose([x, expected]);
    await session?.release();
  }
}
