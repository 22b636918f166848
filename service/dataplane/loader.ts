/**
 * The Service's loader: a version is read from the store (checksums verified), loaded into
 * every inference worker, and warmed up with a real inference of zeros before the manager
 * may route traffic to it. Cheap to build; the work happens in `load()`.
 */
import type { EngineName, ModelManifest } from '../../connectors/ms/manifest.ts';
import { MscrError } from '../../connectors/errors.ts';
import type { ModelStore } from '../../connectors/store/index.ts';
import { modelKey, type InferenceEngine } from '../engine/index.ts';
import type { Loader } from '../reload/manager.ts';
import { warmUpShape } from '../reload/tfjs-loader.ts';
import { chooseRuntime, filesFor, type EnginePreference } from './engine-choice.ts';

/** What a request holds while it runs: the version's manifest and its key in the engine. */
export interface ServedVersion {
  manifest: ModelManifest;
  key: string;
  /** The engine that runs it (see `chooseRuntime`). */
  engine: EngineName;
}

export interface EngineLoaderOptions {
  /** `mscr serve --engine`; default `auto` (ONNX Runtime where the version has an ONNX form). */
  engine?: EnginePreference;
}

export function createEngineLoader(
  store: ModelStore,
  engine: InferenceEngine,
  options: EngineLoaderOptions = {},
): Loader<ServedVersion> {
  const preference = options.engine ?? 'auto';
  return {
    async load(model, version, signal) {
      const { manifest, files } = await store.readVersion(model, version);
      signal.throwIfAborted();
      const input = manifest.inputs[0];
      if (!input) {
        throw new MscrError('integrity', `${model} version ${version}: the manifest has no input`);
      }
      const key = modelKey(model, version);
      const runtime = chooseRuntime(manifest, preference);
      await engine.load(key, Object.fromEntries(filesFor(runtime, manifest, files)), {
        inputShape: input.shape,
        ...(manifest.inputs.length > 1 ? { inputShapes: manifest.inputs.map((i) => i.shape) } : {}),
        runtime,
      });
      try {
        // Warm-up: the first inference compiles kernels; do it before traffic arrives.
        const zeros = manifest.inputs.map((spec) => {
          const shape = warmUpShape(spec);
          return {
            name: spec.name,
            data: new Float32Array(shape.reduce((a, b) => a * b, 1)),
            shape,
          };
        });
        if (zeros.length === 1 && manifest.outputs.length <= 1) {
          const [only] = zeros as [(typeof zeros)[number]];
          await engine.predict(key, only.data, only.shape);
        } else {
          await engine.predictTensors(key, zeros);
        }
        signal.throwIfAborted();
      } catch (error) {
        await engine.unload(key).catch(() => undefined);
        throw error;
      }
      return { manifest, key, engine: runtime.engine };
    },
    async unload(servable) {
      await engine.unload(servable.key);
    },
  };
}
