/**
 * TF.js layers-model artifacts <-> the files of a version folder (`model.json` + one
 * weights file). The store sees bytes only; this is the one place that knows the format.
 */
import * as tf from '@tensorflow/tfjs';
import { MscrError } from '../errors.ts';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_FILE = 'weights.bin';

/** Serialises a model into the files of a version folder. */
export async function modelToFiles(model: tf.LayersModel): Promise<Map<string, Uint8Array>> {
  let files: Map<string, Uint8Array> | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weightData = artifacts.weightData;
      const weights = weightData === undefined ? new Uint8Array(0) : concatWeights(weightData);
      const modelJson = {
        format: 'layers-model',
        generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs ?? [] }],
      };
      files = new Map([
        [MODEL_JSON, new TextEncoder().encode(JSON.stringify(modelJson))],
        [WEIGHTS_FILE, weights],
      ]);
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  if (!files) throw new MscrError('internal', 'model.save did not call the save handler');
  return files;
}

function concatWeights(data: ArrayBuffer | ArrayBuffer[]): Uint8Array {
  const buffers = Array.isArray(data) ? data : [data];
  const total = buffers.reduce((sum, b) => sum + b.byteLength, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const buffer of buffers) {
    out.set(new Uint8Array(buffer), offset);
    offset += buffer.byteLength;
  }
  return out;
}

interface ModelJsonFile {
  modelTopology?: unknown;
  weightsManifest?: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

/** Loads a model from the files of a version folder (already checksum-verified by the store). */
export async function modelFromFiles(files: Map<string, Uint8Array>): Promise<tf.LayersModel> {
  const json = files.get(MODEL_JSON);
  if (!json) throw new MscrError('integrity', `version has no ${MODEL_JSON}`);
  let parsed: ModelJsonFile;
  try {
    parsed = JSON.parse(new TextDecoder().decode(json)) as ModelJsonFile;
  } catch (error) {
    throw new MscrError('integrity', `${MODEL_JSON} is not valid JSON`, { cause: error });
  }
  const groups = parsed.weightsManifest ?? [];
  const specs = groups.flatMap((g) => g.weights);
  const shards = groups.flatMap((g) =>
    g.paths.map((path) => {
      const bytes = files.get(path);
      if (!bytes)
        throw new MscrError(
          'integrity',
          `${MODEL_JSON} names weights file ${path}, which the version lacks`,
        );
      return bytes;
    }),
  );
  const weightData = concatWeights(shards.map((s) => s.slice().buffer));
  try {
    return await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: parsed.modelTopology as object,
        weightSpecs: specs,
        weightData: weightData.buffer,
      }),
    );
  } catch (error) {
    throw new MscrError(
      'integrity',
      `cannot load the model from ${MODEL_JSON}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}
