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
export { onnxArtifactName, signatureNames } from './signature.ts';
export { verifiedOnnxForm, type OnnxForm, type OnnxFormOptions } from './onnx-form.ts';

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
