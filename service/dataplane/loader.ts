/**
 * The Service's loader: a version is read from the store (checksums verified), loaded into
 * every inference worker, and warmed up with a real inference of zeros before the manager
 * may route traffic to it. Cheap to build; the work happens in `load()`.
 */
import type { ModelManifest } from '../../connectors/ms/manifest.ts';
import { MscrError } from '../../connectors/errors.ts';
import type { ModelStore } from '../../connectors/store/index.ts';
import { modelKey, type InferenceEngine } from '../engine/index.ts';
import type { Loader } from '../reload/manager.ts';
import { warmUpShape } from '../reload/tfjs-loader.ts';

/** What a request holds while it runs: the version's manifest and its key in the engine. */
export interface ServedVersion {
  manifest: ModelManifest;
  key: string;
}

export function createEngineLoader(
  store: ModelStore,
  engine: InferenceEngine,
): Loader<ServedVersion> {
  return {
    async load(model, version, signal) {
      const { manifest, files } = await store.readVersion(model, version);
      signal.throwIfAborted();
      const input = manifest.inputs[0];
      if (!input || manifest.inputs.length !== 1) {
        throw new MscrError(
          'integrity',
          `${model} version ${version}: mscr serves models with exactly one input`,
        );
      }
      const key = modelKey(model, version);
      await engine.load(key, Object.fromEntries(files), { inputShape: input.shape });
      try {
        // Warm-up: the first inference compiles kernels; do it before traffic arrives.
        const shape = warmUpShape(input);
        const size = shape.reduce((a, b) => a * b, 1);
        await engine.predict(key, new Float32Array(size), shape);
        signal.throwIfAborted();
      } catch (error) {
        await engine.unload(key).catch(() => undefined);
        throw error;
      }
      return { manifest, key };
    },
    async unload(servable) {
      await engine.unload(servable.key);
    },
  };
}
