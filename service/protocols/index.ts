/**
 * Protocol adapters of the serving engine: each decodes a request body into tensors checked
 * against the model's manifest and encodes the model's outputs. The data plane knows no HTTP,
 * and these know no model: they meet at `DecodedTensor` and `OutputTensor`.
 */
export type { DecodeLimits, DecodedTensor, OutputTensor, TensorValues } from './tensor.ts';
export { DEFAULT_DECODE_LIMITS } from './tensor.ts';
export type { DecodedInferRequest } from './v2.ts';
export { decodeInferRequest, encodeInferResponse, parseParameters, v2ModelMetadata } from './v2.ts';
export type { DecodedV1Request, V1Format } from './v1.ts';
export {
  decodeV1PredictRequest,
  encodeV1PredictResponse,
  modelStatusResponse,
  modelsResponse,
} from './v1.ts';
export {
  checkSignatureName,
  decodeExamples,
  encodeClassificationResult,
  encodeRegressionResult,
  v1ModelMetadata,
} from './tfserving.ts';
export { parseTfServingJson, stringifyTfServingJson } from './tfserving-json.ts';
export type { CsvOrder } from './convenience.ts';
export {
  decodeCsvWindow,
  decodeImageBody,
  decodeImageBodyWithSize,
  encodeClassifyResponse,
  encodeForecastResponse,
  forecastFromOutput,
  imageInputSize,
  imageSpecOf,
  parseCsvOrder,
  parseTopK,
  readCsvWindow,
  topK,
} from './convenience.ts';
export { toErrorResponse } from './errors.ts';
export {
  decodeRowsCsv,
  decodeRowsJson,
  encodeTabularResponse,
  featuresOf,
  type TabularLimits,
} from './tabular.ts';
export {
  binaryOutputsWanted,
  encodeBinaryResponse,
  HEADER_LENGTH,
  inlineBinaryInputs,
  splitInferBody,
} from './v2-binary.ts';
export {
  createImagePolicy,
  DEFAULT_IMAGE_FORMATS,
  parseImageFormats,
  type ImageFormat,
  type ImagePolicy,
} from './image-policy.ts';
export {
  boxOutputOf,
  detectionsOf,
  detectorOf,
  encodeDetectResponse,
  parseDetectParams,
  refuseDetector,
  type DetectParams,
  type Detector,
} from './detect.ts';
