/**
 * Which engine serves a version: the operator's preference (`mscr serve --engine`) against the
 * forms the version has (its manifest's `artifacts`).
 *
 * - `auto`: ONNX Runtime when the version has an ONNX form (native kernels, own threads),
 *   else TF.js.
 * - `tfjs` / `onnx`: that engine when the version has that form; a version that has only the
 *   other form (an imported ONNX model under `--engine tfjs`) is served on the engine it has,
 *   rather than left unservable: the preference chooses between forms, it does not refuse
 *   models.
 */
import {
  engineArtifacts,
  type EngineName,
  type ModelManifest,
} from '../../connectors/ms/manifest.ts';
import type { RuntimeSpec } from '../engine/index.ts';

export type EnginePreference = 'auto' | EngineName;
export const ENGINE_PREFERENCES: readonly EnginePreference[] = ['auto', 'tfjs', 'onnx'];

export function chooseRuntime(manifest: ModelManifest, preference: EnginePreference): RuntimeSpec {
  const forms = engineArtifacts(manifest);
  const wanted: EngineName = preference === 'auto' ? 'onnx' : preference;
  const engine: EngineName = forms.has(wanted) ? wanted : manifest.framework.name;
  const artifact = forms.get(engine) ?? { file: '' };
  // Several inputs or outputs: the engine feeds and reads them all by the manifest's names.
  const several = manifest.inputs.length > 1 || manifest.outputs.length > 1;
  return {
    engine,
    file: artifact.file,
    ...(artifact.input === undefined || several ? {} : { input: artifact.input }),
    ...(artifact.output === undefined || several ? {} : { output: artifact.output }),
    ...(several
      ? { inputs: manifest.inputs.map((s) => s.name), outputs: manifest.outputs.map((s) => s.name) }
      : {}),
  };
}

/**
 * The files an engine needs: ONNX Runtime the one `.onnx` file; TF.js everything but other
 * engines' artifacts (`model.json` names its own weight shards).
 */
export function filesFor(
  runtime: RuntimeSpec,
  manifest: ModelManifest,
  files: Map<string, Uint8Array>,
): Map<string, Uint8Array> {
  if (runtime.engine === 'onnx') {
    const bytes = files.get(runtime.file);
    return bytes === undefined ? new Map() : new Map([[runtime.file, bytes]]);
  }
  const others = new Set(
    [...engineArtifacts(manifest)].filter(([e]) => e !== runtime.engine).map(([, a]) => a.file),
  );
  return new Map([...files].filter(([name]) => !others.has(name)));
}
