/**
 * ONNX export of mscr's own TF.js layers models, so a version trained here can also be
 * served on ONNX Runtime. The exporter writes opset 17 (onnxruntime-node 1.30 runs it) and
 * keeps the TF.js signature: channels-last inputs and outputs with a dynamic batch axis.
 */
import { modelFromFiles } from '../../../connectors/ms/artifacts.ts';
import { exportLayersModelToOnnx, type OnnxExportOptions } from './exporter.ts';

export {
  exportLayersModelToOnnx,
  supportedLayerClasses,
  type OnnxExportOptions,
} from './exporter.ts';
export { ONNX_OPSET } from './graph-builder.ts';

/** The file name of the ONNX form in a version folder, beside model.json and weights.bin. */
export const onnxArtifactName = 'model.onnx';

/**
 * Export options that give the graph the version's served signature: the manifest's input
 * and output names (e.g. `image` -> `probabilities`), so an engine can feed the ONNX form
 * exactly as it feeds the TF.js one. For the publish path:
 *   files.set(onnxArtifactName, exportLayersModelToOnnx(model, signatureNames(draft)))
 */
export function signatureNames(signature: {
  inputs: readonly { name: string }[];
  outputs: readonly { name: string }[];
}): OnnxExportOptions {
  return {
    inputNames: signature.inputs.map((i) => i.name),
    outputNames: signature.outputs.map((o) => o.name),
  };
}

/** Exports the TF.js model stored in a version's files (`model.json` + weights) to ONNX. */
export async function exportModelFilesToOnnx(
  files: Map<string, Uint8Array>,
  options: OnnxExportOptions = {},
): Promise<Uint8Array> {
  const model = await modelFromFiles(files);
  try {
    return exportLayersModelToOnnx(model, options);
  } finally {
    model.dispose();
  }
}
