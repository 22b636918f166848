/**
 * SC connector (Service -> Client): the wire contract, one set of types for the server and the
 * client SDK. Three protocols on one data plane:
 *
 * - V1: TensorFlow Serving's REST API, as KServe V1 speaks it (`./v1.ts`).
 * - V2: the Open Inference Protocol of KServe, Triton and MLServer (`./v2.ts`).
 * - mscr: image or CSV in, labels or a forecast out, for curl (`./mscr.ts`).
 *
 * Paths are in `./routes.ts`. Errors are `{"error": "..."}` everywhere.
 */
export type {
  B64Value,
  GetModelStatusResponse,
  KServeV1ModelResponse,
  KServeV1ModelsResponse,
  ModelVersionState,
  ModelVersionStatus,
  StatusProto,
  TfErrorCode,
  V1ModelResponse,
  V1PredictColumnarRequest,
  V1PredictColumnarResponse,
  V1PredictRequest,
  V1PredictResponse,
  V1PredictRowRequest,
  V1PredictRowResponse,
  V1Value,
} from './v1.ts';
export { DEFAULT_SIGNATURE, MODEL_VERSION_STATES } from './v1.ts';

export type {
  InferRequest,
  InferRequestInput,
  InferRequestOutput,
  InferResponse,
  InferResponseOutput,
  MetadataTensor,
  ModelMetadata,
  ModelReadyResponse,
  Parameters,
  ServerLiveResponse,
  ServerMetadata,
  ServerReadyResponse,
  TensorData,
  TensorElement,
  V2Datatype,
} from './v2.ts';
export {
  MSCR_PLATFORM,
  platformOf,
  V2_ACCEPTED_DATATYPES,
  V2_DATATYPES,
  isV2Datatype,
  tensorDtypeOf,
  v2DatatypeOf,
} from './v2.ts';

export type {
  ClassifyResponse,
  DetectResponse,
  Detection,
  ErrorResponse,
  ForecastResponse,
  LabelScore,
  TabularPrediction,
  TabularResponse,
  VersionState,
  VersionStateReport,
} from './mscr.ts';

export type { Route, RouteKind, VersionSelector } from './routes.ts';
export {
  mscrPredictPath,
  MSCR_MODELS_PATH,
  V1_MODELS_PATH,
  V2_LIVE_PATH,
  V2_MODELS_PATH,
  V2_READY_PATH,
  V2_SERVER_METADATA_PATH,
  matchRoute,
  methodOfPath,
  mscrClassifyPath,
  mscrDetectPath,
  mscrEvaluatePath,
  mscrFeedbackPath,
  mscrTrainRunPath,
  MSCR_TRAIN_PATH,
  mscrForecastPath,
  mscrRetrainPath,
  mscrRunsPath,
  mscrSignalsPath,
  v1ClassifyPath,
  v1MetadataPath,
  v1ModelPath,
  v1PredictPath,
  v1RegressPath,
  v2InferPath,
  v2ModelPath,
  v2ModelReadyPath,
} from './routes.ts';

export type {
  FeedbackRequest,
  FeedbackResponse,
  LabelledBox,
  ModelSignals,
  RetrainRequest,
  RetrainResponse,
  RetrainRun,
} from '../sr/index.ts';
