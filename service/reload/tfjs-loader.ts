/**
 * Hot reload, part 4: the TF.js **loader**. Cheap to build; `load` does the work:
 *
 *   1. brings up the TF.js backend (`initBackend`, once per loader),
 *   2. reads the version from the store (`readVersion` checks every file's size and sha256),
 *   3. builds the layers model from the files (`modelFromFiles`),
 *   4. warms it up with one inference on zeros of the manifest's input shapes (batch 1, every
 *      `-1` dimension 1), and checks the outputs against the manifest's output shapes, so a
 *      version whose model and manifest disagree fails here instead of on the first request.
 *
 * Any failure disposes what was built and rejects; the manager marks the version FAILED.
 * `unload` disposes the model's weights.
 */
import * as tf from '@tensorflow/tfjs';
import { MscrError, errorMessage } from '../../connectors/errors.ts';
import { modelFromFiles } from '../../connectors/ms/artifacts.ts';
import type { ModelManifest, TensorSpec } from '../../connectors/ms/manifest.ts';
import type { ModelStore } from '../../connectors/store/index.ts';
import { initBackend } from '../../runtime/backend/index.ts';
import type { BackendInfo, BackendPreference } from '../../runtime/backend/index.ts';
import type { Loader } from './manager.ts';

/** One loaded version: its manifest and its warmed-up model. */
export interface TfjsServable {
  manifest: ModelManifest;
  model: tf.LayersModel;
}

export interface TfjsLoaderOptions {
  /** Backend preference for `initBackend`. Default `auto`. */
  backend?: BackendPreference;
}

/** The shape a warm-up input gets: batch 1, every `-1` dimension 1. */
export function warmUpShape(spec: TensorSpec): number[] {
  return spec.shape.map((dim, index) => (index === 0 || dim === -1 ? 1 : dim));
}

function checkAborted(signal: AbortSignal, model: string, version: number): void {
  if (signal.aborted) {
    throw new MscrError(
      'unavailable',
      `loading version ${version} of model ${model} was cancelled`,
      {
        cause: signal.reason,
      },
    );
  }
}

/** Runs one inference on zeros and checks the output shapes; throws `integrity` on a mismatch. */
async function warmUp(model: tf.LayersModel, manifest: ModelManifest): Promise<void> {
  const where = `version ${manifest.version} of model ${manifest.name}`;
  const inputs = manifest.inputs.map((spec) => tf.zeros(warmUpShape(spec), spec.dtype));
  let outputs: tf.Tensor[] = [];
  try {
    const result = model.predict(inputs.length === 1 ? (inputs[0] as tf.Tensor) : inputs);
    outputs = Array.isArray(result) ? result : [result];
    await Promise.all(outputs.map((output) => output.data()));
  } catch (error) {
    throw new MscrError(
      'integrity',
      `warm-up inference of ${where} failed on zeros of its manifest input shapes ${JSON.stringify(
        manifest.inputs.map((spec) => spec.shape),
      )}: ${errorMessage(error)}`,
      { cause: error },
    );
  } finally {
    tf.dispose(inputs);
    tf.dispose(outputs);
  }
  if (outputs.length !== manifest.outputs.length) {
    throw new MscrError(
      'integrity',
      `${where}: the model has ${outputs.length} output(s), the manifest lists ${manifest.outputs.length}`,
    );
  }
  manifest.outputs.forEach((spec, index) => {
    const actual = outputs[index]?.shape ?? [];
    const expected = warmUpShape(spec);
    const matches =
      actual.length === expected.length &&
      spec.shape.every((dim, i) => i === 0 || dim === -1 || dim === actual[i]);
    if (!matches) {
      throw new MscrError(
        'integrity',
        `${where}: output ${spec.name} has shape ${JSON.stringify(actual)} for a batch of 1, the manifest says ${JSON.stringify(spec.shape)}`,
      );
    }
  });
}

/** A loader of TF.js layers models from a model store. */
export function createTfjsLoader(
  store: ModelStore,
  options: TfjsLoaderOptions = {},
): Loader<TfjsServable> {
  let backend: Promise<BackendInfo> | undefined;
  const ensureBackend = (): Promise<BackendInfo> => {
    backend ??= initBackend(options.backend ?? 'auto').catch((error: unknown) => {
      backend = undefined; // let the next load (a retry) try again
      throw error;
    });
    return backend;
  };

  return {
    async load(model, version, signal) {
      await ensureBackend();
      checkAborted(signal, model, version);
      const { manifest, files } = await store.readVersion(model, version);
      checkAborted(signal, model, version);
      const layers = await modelFromFiles(files);
      try {
        checkAborted(signal, model, version);
        await warmUp(layers, manifest);
        checkAborted(signal, model, version);
      } catch (error) {
        layers.dispose();
        throw error;
      }
      return { manifest, model: layers };
    },
    async unload(servable) {
      servable.model.dispose();
    },
  };
}
