/**
 * Importing a TensorFlow.js model folder as `tensorflowjs_converter` writes it (`model.json`
 * + weight shards). Layers models are loaded with TF.js itself (which checks the topology and
 * every weight against its shard), and their signature read from the loaded model; the files
 * are published as they are.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { MscrError, errorMessage } from '../../connectors/errors.ts';
import { MODEL_JSON, modelFromFiles } from '../../connectors/ms/artifacts.ts';
import { isSafeFileName, type ManifestDraft } from '../../connectors/ms/manifest.ts';
import { describe, type DescribeOptions } from './describe.ts';

interface ModelJson {
  format?: string;
  modelTopology?: unknown;
  weightsManifest?: { paths?: unknown; weights?: unknown }[];
}

async function readJson(folder: string): Promise<{ bytes: Uint8Array; json: ModelJson }> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(join(folder, MODEL_JSON));
  } catch (error) {
    throw new MscrError('not_found', `no ${MODEL_JSON} in ${folder}: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  try {
    const json = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
    if (typeof json !== 'object' || json === null || Array.isArray(json))
      throw new Error('not an object');
    return { bytes, json: json as ModelJson };
  } catch (error) {
    throw new MscrError(
      'bad_data',
      `${join(folder, MODEL_JSON)} is not a TF.js model.json: ${errorMessage(error)}`,
      { cause: error },
    );
  }
}

const dims = (shape: readonly (number | null)[]): number[] =>
  shape.map((d) => (d === null || d < 0 ? -1 : d));

export async function describeTfjsFolder(
  folder: string,
  options: DescribeOptions,
): Promise<{
  draft: Omit<ManifestDraft, 'name' | 'data' | 'training' | 'metrics'>;
  files: Map<string, Uint8Array>;
}> {
  const { bytes, json } = await readJson(folder);
  if (json.format === 'graph-model') {
    throw new MscrError(
      'bad_data',
      `${folder} holds a TF.js graph model; mscr serves TF.js layers models. Convert the SavedModel to ONNX (python -m tf2onnx.convert --saved-model DIR --output model.onnx) and import that`,
    );
  }
  if (json.modelTopology === undefined || !Array.isArray(json.weightsManifest)) {
    throw new MscrError(
      'bad_data',
      `${join(folder, MODEL_JSON)} has no modelTopology or weightsManifest`,
    );
  }
  const files = new Map<string, Uint8Array>([[MODEL_JSON, bytes]]);
  for (const group of json.weightsManifest) {
    const paths = Array.isArray(group.paths) ? group.paths : [];
    for (const path of paths) {
      if (typeof path !== 'string' || !isSafeFileName(path)) {
        throw new MscrError(
          'bad_data',
          `${MODEL_JSON} names weights file ${JSON.stringify(path)}; expected a plain file name beside it`,
        );
      }
      try {
        files.set(path, await readFile(join(folder, path)));
      } catch (error) {
        throw new MscrError(
          'bad_data',
          `${MODEL_JSON} names weights file ${path}, which cannot be read: ${errorMessage(error)}`,
          { cause: error },
        );
      }
    }
  }
  let model: tf.LayersModel;
  try {
    model = await modelFromFiles(files);
  } catch (error) {
    throw new MscrError('bad_data', `TF.js cannot load ${folder}: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  try {
    const input = model.inputs[0];
    const output = model.outputs[0];
    if (!input || !output) throw new MscrError('bad_data', 'the model has no input or no output');
    if (model.inputs.length > 1 || model.outputs.length > 1) {
      // A functional model of several inputs or outputs: served as it is (task raw), every
      // input and output by name, in the model's order.
      const imageFlags = Object.values(options.image ?? {}).some((v) => v !== undefined);
      const task = options.task !== undefined && options.task !== 'raw';
      if (task || options.labels || options.features || imageFlags) {
        throw new MscrError(
          'bad_request',
          `the model has ${model.inputs.length} inputs and ${model.outputs.length} outputs: it is served as it is (task raw, every input and output by name), so --task, --labels, --features and image flags do not apply`,
        );
      }
      return {
        draft: {
          framework: { name: 'tfjs', version: tf.version.tfjs, format: 'layers-model' },
          task: 'raw',
          architecture: 'imported',
          // The layer names (`a`, `sum`), not the tensor names (`sum/sum`).
          inputs: model.inputs.map((t, i) => ({
            name: model.inputNames[i] ?? t.name,
            dtype: 'float32' as const,
            shape: describe(dims(t.shape), [], undefined, { task: 'raw' }).inputShape,
          })),
          outputs: model.outputs.map((t, i) => ({
            name: model.outputNames[i] ?? t.name,
            dtype: 'float32' as const,
            shape: dims(t.shape),
          })),
          preprocessing: { kind: 'none' },
        },
        files,
      };
    }
    const described = describe(dims(input.shape), dims(output.shape), undefined, options);
    return {
      draft: {
        framework: { name: 'tfjs', version: tf.version.tfjs, format: 'layers-model' },
        task: described.task,
        architecture: 'imported',
        inputs: [{ name: input.name, dtype: 'float32', shape: described.inputShape }],
        outputs: [{ name: output.name, dtype: 'float32', shape: dims(output.shape) }],
        ...(described.labels ? { labels: described.labels } : {}),
        preprocessing: described.preprocessing,
      },
      files,
    };
  } finally {
    model.dispose();
  }
}
