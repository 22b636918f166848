/**
 * The Client layer (the MSC/R Facade): how people and programs use a served model.
 *
 * - `createClient`: the typed SDK over the SC and SR connectors (Node and browsers).
 * - `mscr predict | status | feedback` (in `cli/`) and the web page (`client/web/`) use it.
 */
export { createClient, looksLikeDetector, selectorOf } from './sdk/client.ts';
export type {
  ClassifyOptions,
  ClientOptions,
  DetectOptions,
  ForecastOptions,
  ImageInput,
  InferOptions,
  MscrClient,
  RetrainOptions,
  RunsOptions,
  SeriesForecast,
  SeriesForecastOptions,
  SeriesPoint,
  VersionOption,
  VersionRef,
} from './sdk/client.ts';
export { parseEventStream } from './sdk/training.ts';
export type { AdminOptions, TrainEvent, TrainEventsOptions } from './sdk/training.ts';
export { MscrClientError, errorCodeOfStatus, isMscrClientError } from './sdk/errors.ts';
export type { ClientErrorKind } from './sdk/errors.ts';
export type { CallOptions, FetchLike } from './sdk/transport.ts';
export { retryDelay } from './sdk/transport.ts';
export {
  columnValues,
  mapLimit,
  parseSeriesCsv,
  rmse,
  slidingWindows,
  targetColumnIndex,
  toFileLines,
} from './sdk/series.ts';
export type { CsvOrder, CsvSeries, SeriesWindow } from './sdk/series.ts';
export { decodeInferResponse, encodeBinaryInferRequest } from './sdk/binary.ts';
export type * from '../connectors/sc/index.ts';
