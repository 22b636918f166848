/**
 * The typed mscr client: every endpoint of the SC connector (KServe V1 / TF Serving, Open
 * Inference V2, mscr's own classify, detect and forecast) and of the SR connector (feedback,
 * signals, retraining), with the wire types and path builders of `connectors/` and nothing
 * redefined here. Web-standard APIs only, so the same code runs in Node and in the browser.
 *
 *     const client = createClient({ baseUrl: 'http://localhost:8080' });
 *     const { predictions, predictionIds } = await client.classify('shapes', imageBytes);
 *     await client.feedback('shapes', { predictionId: predictionIds[0], label: 'circle' });
 */
import type {
  ClassifyResponse,
  DetectResponse,
  ForecastResponse,
  FeedbackRequest,
  FeedbackResponse,
  InferRequest,
  InferResponse,
  KServeV1ModelsResponse,
  ModelMetadata,
  ModelReadyResponse,
  ModelSignals,
  RetrainRequest,
  RetrainResponse,
  RetrainRun,
  ServerLiveResponse,
  ServerMetadata,
  ServerReadyResponse,
  V1ModelResponse,
  V1PredictRequest,
  V1PredictResponse,
  VersionSelector,
} from '../../connectors/sc/index.ts';
import {
  V1_MODELS_PATH,
  V2_LIVE_PATH,
  V2_READY_PATH,
  V2_SERVER_METADATA_PATH,
  mscrClassifyPath,
  mscrDetectPath,
  mscrFeedbackPath,
  mscrForecastPath,
  mscrRetrainPath,
  mscrRunsPath,
  mscrSignalsPath,
  v1ModelPath,
  v1PredictPath,
  v2InferPath,
  v2ModelPath,
  v2ModelReadyPath,
} from '../../connectors/sc/routes.ts';
import { trimTrailing } from '../../connectors/text.ts';
import { MscrClientError, isMscrClientError } from './errors.ts';
import { INFERENCE_HEADER, decodeInferResponse, encodeBinaryInferRequest } from './binary.ts';
import { createTrainingCalls } from './training.ts';
import {
  columnValues,
  mapLimit,
  parseSeriesCsv,
  rmse,
  slidingWindows,
  targetColumnIndex,
  toFileLines,
  type CsvOrder,
  type SeriesWindow,
} from './series.ts';
import {
  parseJson,
  send,
  type CallOptions,
  type FetchLike,
  type RawResponse,
  type RequestBody,
  type RequestSpec,
  type TransportSettings,
} from './transport.ts';

export interface ClientOptions {
  /** Where the service is, e.g. `http://localhost:8080` (a path prefix is kept). */
  baseUrl: string;
  /** Longest wait for one attempt (connect, headers and body). Default 30 s. */
  timeoutMs?: number;
  /** Retries after the first attempt, for 503s and connection errors. Default 2. */
  retries?: number;
  /** First backoff delay; doubles per retry, with jitter. Default 200 ms. */
  retryDelayMs?: number;
  /** Longest backoff delay. Default 5 s. */
  maxRetryDelayMs?: number;
  /** A fetch to use instead of the global one (a proxy agent, a test double). */
  fetch?: FetchLike;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
  /** Jitter source in [0, 1); default Math.random. */
  random?: () => number;
}

/** A version: a number, a numeric string, or an alias name (`stable`). Absent: the default. */
export type VersionRef = number | string;

export interface VersionOption {
  version?: VersionRef;
}

/** Image bytes: anything fetch can send. A Blob's own type is sent as the content type. */
export type ImageInput = Uint8Array | ArrayBuffer | Blob;

export interface ClassifyOptions extends VersionOption, CallOptions {
  /** How many classes to return, best first (the server's default is 5). */
  top?: number;
  /** Content type of the bytes; default the Blob's type, else application/octet-stream. */
  contentType?: string;
}

export interface DetectOptions extends VersionOption, CallOptions {
  /** Boxes scoring at or below this are dropped (default: the model's, else 0.25). */
  threshold?: number;
  /** Non-maximum suppression's IoU threshold (default: the model's, else 0.45). */
  iou?: number;
  /** At most this many boxes (default: the model's, else 100). */
  max?: number;
  /** Content type of the bytes; default the Blob's type, else application/octet-stream. */
  contentType?: string;
}

/**
 * Whether a model's V2 metadata looks like an object detector's: an image input
 * (`[batch, H, W, C]` or `[batch, C, H, W]`) and a box output of rank 3 or more (YOLO's
 * `[batch, 4 + C, boxes]`, mscr's grid `[batch, rows, cols, 5 + C]`), where a classifier
 * answers `[batch, classes]`. The metadata protocols carry no task, so the shapes tell.
 */
export function looksLikeDetector(metadata: ModelMetadata): boolean {
  const input = metadata.inputs[0]?.shape ?? [];
  const output = metadata.outputs[0]?.shape ?? [];
  return input.length === 4 && output.length >= 3;
}

export interface ForecastOptions extends VersionOption, CallOptions {
  /** Row order of the CSV; GOOG-style files have the newest row first. */
  order?: CsvOrder;
}

export interface InferOptions extends VersionOption, CallOptions {
  /** Send numeric inputs and receive outputs as binary tensor data instead of JSON numbers. */
  binary?: boolean;
}

export interface SeriesForecastOptions extends VersionOption, CallOptions {
  order?: CsvOrder;
  /** The column to compare forecasts with: a name or an index. Default: the model's target by name, else the last column. */
  targetColumn?: string | number;
  /** Forecast only the newest N windows. Default: every window. */
  maxWindows?: number;
  /** Requests in flight at once. Default 4. */
  concurrency?: number;
  /** Called after each window is answered. */
  onProgress?: (done: number, total: number) => void;
}

export interface SeriesPoint {
  /** Row index in the file, oldest first (`rows` is the day after the file's last row). */
  index: number;
  actual?: number;
  predicted?: number;
  predictionId?: string;
}

export interface SeriesForecast {
  model: string;
  version: number;
  target: string;
  window: number;
  /** Whether the actual values were taken from the last column because no column of the CSV has the target's name. */
  targetGuessed: boolean;
  /** One point per row from the first forecast on, plus the day after the file. */
  points: SeriesPoint[];
  /** Root mean squared error of the forecasts, and of "tomorrow = today" for comparison. */
  rmse?: number;
  naiveRmse?: number;
}

export interface RetrainOptions extends CallOptions, RetrainRequest {
  /** The admin token, sent as `Authorization: Bearer <token>`. */
  token: string;
}

export interface RunsOptions extends CallOptions {
  limit?: number;
}

export interface MscrClient {
  readonly baseUrl: string;
  /** `GET /v2/health/live`: true when the process answers. */
  live(options?: CallOptions): Promise<boolean>;
  /** `GET /v2/health/ready`: true when every configured model can serve (503 -> false). */
  ready(options?: CallOptions): Promise<boolean>;
  /** `GET /v2`: server name, version and protocol extensions. */
  serverMetadata(options?: CallOptions): Promise<ServerMetadata>;
  /** `GET /v1/models`: the served model names. */
  listModels(options?: CallOptions): Promise<string[]>;
  /** `GET /v2/models/{m}[/versions/{v}]`: inputs, outputs and available versions. */
  modelMetadata(model: string, options?: VersionOption & CallOptions): Promise<ModelMetadata>;
  /** `GET /v2/models/{m}[/versions/{v}]/ready` (503 -> false). */
  modelReady(model: string, options?: VersionOption & CallOptions): Promise<boolean>;
  /** `GET /v1/models/{m}[/versions/{v}|/labels/{l}]`: per-version state (TF Serving). */
  modelStatus(model: string, options?: VersionOption & CallOptions): Promise<V1ModelResponse>;
  /** `POST /v1/models/{m}[...]:predict` with `instances` or `inputs`. */
  predict(
    model: string,
    request: V1PredictRequest,
    options?: VersionOption & CallOptions,
  ): Promise<V1PredictResponse>;
  /** `POST /v2/models/{m}[/versions/{v}]/infer`, JSON or binary tensors. */
  infer(model: string, request: InferRequest, options?: InferOptions): Promise<InferResponse>;
  /** `POST /mscr/models/{m}[/versions/{v}]/classify` with image bytes. */
  classify(model: string, image: ImageInput, options?: ClassifyOptions): Promise<ClassifyResponse>;
  /**
   * `POST /mscr/models/{m}[/versions/{v}]/detect` with image bytes: an object detector's
   * boxes in the image's pixels, best first.
   */
  detect(model: string, image: ImageInput, options?: DetectOptions): Promise<DetectResponse>;
  /** `POST /mscr/models/{m}[/versions/{v}]/forecast` with a CSV window. */
  forecast(model: string, csv: string, options?: ForecastOptions): Promise<ForecastResponse>;
  /** A forecast for every sliding window of a CSV, with the actual values beside them. */
  forecastSeries(
    model: string,
    csv: string,
    options?: SeriesForecastOptions,
  ): Promise<SeriesForecast>;
  /**
   * `POST /mscr/models/{m}/feedback`: the true label or value of a prediction. `token`: the
   * service's feedback token, when it has one (`MSCR_FEEDBACK_TOKEN`).
   */
  feedback(
    model: string,
    request: FeedbackRequest,
    options?: CallOptions & { token?: string },
  ): Promise<FeedbackResponse>;
  /** `GET /mscr/models/{m}/signals`: what the observers read. */
  signals(model: string, options?: CallOptions): Promise<ModelSignals>;
  /** `POST /mscr/models/{m}/retrain` with the admin token: starts a run (202). */
  retrain(model: string, options: RetrainOptions): Promise<RetrainResponse>;
  /** `GET /mscr/models/{m}/runs`: retraining runs, newest first. */
  runs(model: string, options?: RunsOptions): Promise<RetrainRun[]>;
  /** `POST /mscr/train` with the admin token: starts a training run (202). */
  train: TrainingCalls['train'];
  /** `GET /mscr/train/{id}`: the training run's record. */
  trainStatus: TrainingCalls['trainStatus'];
  /** `GET /mscr/train/{id}` as Server-Sent Events: progress, then the report. */
  trainEvents: TrainingCalls['trainEvents'];
  /** `POST /mscr/models/{m}/evaluate` with the admin token: a version's metrics on data. */
  evaluate: TrainingCalls['evaluate'];
}

type TrainingCalls = ReturnType<typeof createTrainingCalls>;

/** A `VersionRef` as the path builders take it: numbers (and numeric strings) are versions. */
export function selectorOf(version: VersionRef | undefined): VersionSelector | undefined {
  if (version === undefined || version === '' || version === 'latest') return undefined;
  if (typeof version === 'number') return { version };
  return /^[0-9]+$/.test(version) ? { version: Number(version) } : { label: version };
}

function normalizeBaseUrl(baseUrl: string): string {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new MscrClientError(
      'input',
      `invalid service URL ${JSON.stringify(baseUrl)}: expected e.g. http://localhost:8080`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new MscrClientError(
      'input',
      `invalid service URL ${JSON.stringify(baseUrl)}: only http:// and https:// are supported`,
    );
  }
  return `${url.origin}${trimTrailing(url.pathname, '/')}`;
}

function positive(name: string, value: number | undefined, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new MscrClientError('input', `${name} must be a number >= ${min}, got ${String(value)}`);
  }
  return value;
}

/** Path builders throw `MscrError`s for bad names; the SDK reports them as input errors. */
function path(build: () => string): string {
  try {
    return build();
  } catch (error) {
    throw new MscrClientError('input', (error as Error).message, { cause: error });
  }
}

/** A 400 about a window, its line numbers turned into the file's. */
function inFileTerms(error: unknown, window: SeriesWindow): unknown {
  if (!isMscrClientError(error) || error.kind !== 'http' || error.serverMessage === undefined)
    return error;
  const serverMessage = toFileLines(error.serverMessage, window);
  if (serverMessage === error.serverMessage) return error;
  return new MscrClientError('http', toFileLines(error.message, window), {
    httpStatus: error.httpStatus,
    serverMessage,
    method: error.method,
    url: error.url,
    attempts: error.attempts,
    cause: error,
  });
}

export function createClient(options: ClientOptions): MscrClient {
  const fetchFn: FetchLike =
    options.fetch ??
    ((input, init) => {
      if (typeof globalThis.fetch !== 'function') {
        throw new MscrClientError('input', 'this runtime has no fetch; pass options.fetch');
      }
      return globalThis.fetch(input, init);
    });
  const settings: TransportSettings = {
    baseUrl: normalizeBaseUrl(options.baseUrl),
    timeoutMs: positive('timeoutMs', options.timeoutMs, 30_000, 1),
    retries: Math.floor(positive('retries', options.retries, 2)),
    retryDelayMs: positive('retryDelayMs', options.retryDelayMs, 200),
    maxRetryDelayMs: positive('maxRetryDelayMs', options.maxRetryDelayMs, 5_000),
    fetch: fetchFn,
    headers: { ...options.headers },
    random: options.random ?? Math.random,
  };

  const call = (spec: RequestSpec, callOptions: CallOptions = {}): Promise<RawResponse> =>
    send(spec, settings, callOptions);

  async function getJson<T>(
    urlPath: string,
    callOptions: CallOptions = {},
    accept?: readonly number[],
  ): Promise<T> {
    const response = await call(
      { method: 'GET', path: urlPath, idempotent: true, ...(accept ? { accept } : {}) },
      callOptions,
    );
    return parseJson<T>(response, 'GET');
  }

  async function postJson<T>(
    urlPath: string,
    body: unknown,
    idempotent: boolean,
    callOptions: CallOptions = {},
    extra: Partial<RequestSpec> = {},
  ): Promise<T> {
    const response = await call(
      {
        method: 'POST',
        path: urlPath,
        body: JSON.stringify(body),
        contentType: 'application/json',
        idempotent,
        ...extra,
      },
      callOptions,
    );
    return parseJson<T>(response, 'POST');
  }

  /** Image bytes to a classify or detect path (an empty image is refused before sending). */
  async function postImage(
    urlPath: string,
    image: ImageInput,
    opts: CallOptions & { contentType?: string },
  ) {
    const blobType = typeof Blob !== 'undefined' && image instanceof Blob ? image.type : '';
    const size =
      image instanceof ArrayBuffer ? image.byteLength : 'size' in image ? image.size : image.length;
    if (size === 0) {
      throw new MscrClientError('input', 'the image is empty: pass the bytes of an image file');
    }
    return call(
      {
        method: 'POST',
        path: urlPath,
        body: image as RequestBody,
        contentType: opts.contentType ?? (blobType || 'application/octet-stream'),
        idempotent: true,
      },
      opts,
    );
  }
  const training = createTrainingCalls({
    baseUrl: settings.baseUrl,
    fetch: fetchFn,
    headers: settings.headers,
    getJson: (urlPath, callOptions) => getJson(urlPath, callOptions),
    postJson: (urlPath, body, idempotent, callOptions, extra) =>
      postJson(urlPath, body, idempotent, callOptions, extra),
  });

  const client: MscrClient = {
    baseUrl: settings.baseUrl,
    train: training.train,
    trainStatus: training.trainStatus,
    trainEvents: training.trainEvents,
    evaluate: training.evaluate,

    async live(callOptions) {
      const body = await getJson<ServerLiveResponse>(V2_LIVE_PATH, callOptions, [503]);
      return body.live === true;
    },

    async ready(callOptions) {
      // 503 is the answer "not ready", not a failure: no retry, no error.
      const body = await getJson<ServerReadyResponse>(V2_READY_PATH, callOptions, [503]);
      return body.ready === true;
    },

    serverMetadata: async (callOptions) =>
      getJson<ServerMetadata>(V2_SERVER_METADATA_PATH, callOptions),

    async listModels(callOptions) {
      return (await getJson<KServeV1ModelsResponse>(V1_MODELS_PATH, callOptions)).models;
    },

    modelMetadata: async (model, opts = {}) =>
      getJson<ModelMetadata>(
        path(() => v2ModelPath(model, selectorOf(opts.version))),
        opts,
      ),

    async modelReady(model, opts = {}) {
      const body = await getJson<ModelReadyResponse>(
        path(() => v2ModelReadyPath(model, selectorOf(opts.version))),
        opts,
        [503],
      );
      return body.ready === true;
    },

    // `?format=kserve`: TF Serving's status plus KServe V1's `name` and `ready`.
    modelStatus: async (model, opts = {}) =>
      getJson<V1ModelResponse>(
        `${path(() => v1ModelPath(model, selectorOf(opts.version)))}?format=kserve`,
        opts,
      ),

    predict: async (model, request, opts = {}) =>
      postJson<V1PredictResponse>(
        path(() => v1PredictPath(model, selectorOf(opts.version))),
        request,
        true,
        opts,
      ),

    async infer(model, request, opts = {}) {
      const urlPath = path(() => v2InferPath(model, selectorOf(opts.version)));
      if (!opts.binary) return postJson<InferResponse>(urlPath, request, true, opts);
      const { body, headerLength } = encodeBinaryInferRequest(request);
      const response = await call(
        {
          method: 'POST',
          path: urlPath,
          body,
          contentType: 'application/octet-stream',
          headers: { [INFERENCE_HEADER]: String(headerLength) },
          idempotent: true,
        },
        opts,
      );
      return decodeInferResponse(response.body, response.headers.get(INFERENCE_HEADER));
    },

    async classify(model, image, opts = {}) {
      const query = opts.top !== undefined ? `?top=${encodeURIComponent(String(opts.top))}` : '';
      const response = await postImage(
        path(() => mscrClassifyPath(model, selectorOf(opts.version))) + query,
        image,
        opts,
      );
      return parseJson<ClassifyResponse>(response, 'POST');
    },

    async detect(model, image, opts = {}) {
      const params = new URLSearchParams();
      for (const key of ['threshold', 'iou', 'max'] as const) {
        const value = opts[key];
        if (value !== undefined) params.set(key, String(value));
      }
      const query = params.size > 0 ? `?${params.toString()}` : '';
      const response = await postImage(
        path(() => mscrDetectPath(model, selectorOf(opts.version))) + query,
        image,
        opts,
      );
      return parseJson<DetectResponse>(response, 'POST');
    },

    async forecast(model, csv, opts = {}) {
      const query = opts.order !== undefined ? `?order=${encodeURIComponent(opts.order)}` : '';
      const response = await call(
        {
          method: 'POST',
          path: path(() => mscrForecastPath(model, selectorOf(opts.version))) + query,
          body: csv,
          contentType: 'text/csv',
          idempotent: true,
        },
        opts,
      );
      return parseJson<ForecastResponse>(response, 'POST');
    },

    async forecastSeries(model, csv, opts = {}) {
      const metadata = await client.modelMetadata(model, opts);
      const shape = metadata.inputs[0]?.shape ?? [];
      const window = shape[1];
      if (shape.length !== 3 || window === undefined || window < 1) {
        throw new MscrClientError(
          'input',
          `model ${model} takes input of shape [${shape.join(', ')}], not a window of rows: it is not a forecaster`,
        );
      }
      const order = opts.order ?? 'oldest-first';
      const series = parseSeriesCsv(csv, order);
      let windows = slidingWindows(series, window);
      if (opts.maxWindows !== undefined && opts.maxWindows < windows.length)
        windows = windows.slice(windows.length - Math.max(1, Math.floor(opts.maxWindows)));
      let done = 0;
      const { version: _version, onProgress, concurrency, ...callOptions } = opts;
      const answers = await mapLimit(windows, concurrency ?? 4, async (w) => {
        let answer: ForecastResponse;
        try {
          answer = await client.forecast(model, w.csv, {
            ...callOptions,
            ...(opts.version !== undefined ? { version: opts.version } : {}),
            order: 'oldest-first',
          });
        } catch (error) {
          throw inFileTerms(error, w);
        }
        onProgress?.(++done, windows.length);
        return answer;
      });
      const first = answers[0] as ForecastResponse;
      const target = targetColumnIndex(series, opts.targetColumn ?? first.target);
      const actual = columnValues(series, target.index);
      const points: SeriesPoint[] = [];
      answers.forEach((answer, i) => {
        const index = (windows[i] as { index: number }).index;
        const value = actual[index];
        const id = answer.predictionIds?.[0];
        points.push({
          index,
          ...(value !== undefined && Number.isFinite(value) ? { actual: value } : {}),
          ...(answer.forecast[0] !== undefined ? { predicted: answer.forecast[0] } : {}),
          ...(id !== undefined ? { predictionId: id } : {}),
        });
      });
      const naive = points.map((p) => ({
        ...(p.actual !== undefined ? { actual: p.actual } : {}),
        predicted: actual[p.index - 1] as number,
      }));
      const modelRmse = rmse(points);
      const naiveRmse = rmse(naive);
      return {
        model: first.model,
        version: Math.max(...answers.map((a) => a.version)),
        target: first.target,
        window,
        targetGuessed: target.guessed,
        points,
        ...(modelRmse !== undefined ? { rmse: modelRmse } : {}),
        ...(naiveRmse !== undefined ? { naiveRmse } : {}),
      };
    },

    feedback: async (model, request, opts = {}) => {
      const { token, ...callOptions } = opts;
      return postJson<FeedbackResponse>(
        path(() => mscrFeedbackPath(model)),
        request,
        false,
        callOptions,
        token !== undefined && token.trim() !== ''
          ? { headers: { authorization: `Bearer ${token.trim()}` } }
          : {},
      );
    },

    signals: async (model, opts = {}) =>
      getJson<ModelSignals>(
        path(() => mscrSignalsPath(model)),
        opts,
      ),

    async retrain(model, opts) {
      const { token, reason, ...callOptions } = opts;
      if (typeof token !== 'string' || token.trim() === '') {
        throw new MscrClientError('input', 'retraining needs the admin token');
      }
      const body: RetrainRequest = reason !== undefined ? { reason } : {};
      return postJson<RetrainResponse>(
        path(() => mscrRetrainPath(model)),
        body,
        false,
        callOptions,
        { headers: { authorization: `Bearer ${token.trim()}` } },
      );
    },

    async runs(model, opts = {}) {
      const { limit, ...callOptions } = opts;
      const query = limit !== undefined ? `?limit=${encodeURIComponent(String(limit))}` : '';
      const body = await getJson<RetrainRun[] | { runs: RetrainRun[] }>(
        path(() => mscrRunsPath(model)) + query,
        callOptions,
      );
      return Array.isArray(body) ? body : (body.runs ?? []);
    },
  };
  return client;
}
