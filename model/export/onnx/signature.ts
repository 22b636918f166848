/** Names that tie a version's ONNX form to its manifest. */
import type { OnnxExportOptions } from './exporter.ts';

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
