/**
 * The HTTP front controller: one Express app, every route of the SC connector matched by
 * `matchRoute`, protocol adapters registered one function per protocol, errors mapped to
 * `{"error": "..."}` in one place. The data plane below knows no HTTP.
 */
import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { MscrError, isMscrError } from '../../connectors/errors.ts';
import type { ModelManifest } from '../../connectors/ms/manifest.ts';
import {
  matchRoute,
  methodOfPath,
  mscrRunsPath,
  type Route,
  type VersionSelector,
} from '../../connectors/sc/index.ts';
import type { RetrainLauncher, RetrainResponse } from '../../connectors/sr/index.ts';
import { preparedInputs, type DataPlane, type InferResult } from '../dataplane/index.ts';
import { tensorRows, type LoggedInput, type Monitoring } from '../monitoring/index.ts';
import type { Logger } from '../observability/log.ts';
import { LabelCap, type Protocol, type ServiceMetrics } from '../observability/metrics.ts';
import {
  boxOutputOf,
  decodeImageBody,
  decodeImageBodyWithSize,
  decodeInferRequest,
  detectionsOf,
  detectorOf,
  encodeDetectResponse,
  parseDetectParams,
  refuseDetector,
  decodeV1PredictRequest,
  encodeClassifyResponse,
  encodeForecastResponse,
  encodeInferResponse,
  decodeRowsCsv,
  decodeRowsJson,
  encodeTabularResponse,
  encodeV1PredictResponse,
  modelStatusResponse,
  modelsResponse,
  parseCsvOrder,
  parseTopK,
  readCsvWindow,
  toErrorResponse,
  v2ModelMetadata,
  binaryOutputsWanted,
  encodeBinaryResponse,
  HEADER_LENGTH,
  inlineBinaryInputs,
  splitInferBody,
  decodeExamples,
  encodeClassificationResult,
  encodeRegressionResult,
  parseTfServingJson,
  stringifyTfServingJson,
  v1ModelMetadata,
  type DecodeLimits,
  type DecodedTensor,
  type OutputTensor,
} from '../protocols/index.ts';
import { FeedbackLimiter, RateLimited } from '../monitoring/feedback-limits.ts';
import {
  parseLimit,
  parseRetrainRequest,
  requireAdmin,
  requireBearer,
  requireJson,
} from './admin.ts';
import { imageFromBody, parseJsonBody } from './body.ts';
import { CALLER_HEADER, callerKeyOf, withCaller } from '../rollout/context.ts';
import { serveStatic } from './static.ts';
import { createTrainRoutes, type TrainRoutesOptions } from './train.ts';

export interface AppOptions {
  dataPlane: DataPlane;
  metrics: ServiceMetrics;
  logger: Logger;
  limits: DecodeLimits & { maxBodyBytes: number };
  serverVersion: string;
  /** Prediction log, signals and feedback (SR connector). */
  monitoring: Monitoring;
  /** Bearer token of the retrain endpoint; `''` turns it off. */
  adminToken: string;
  /** Feedback: its bearer token (`''`: open), body limit, rate and quota per model. */
  feedback?: {
    token: string;
    maxBodyBytes: number;
    ratePerSecond: number;
    burst: number;
    maxRecordsPerHour: number;
    maxBytesPerHour: number;
  };
  /** Starts retraining runs and lists them; absent: those endpoints answer 501. */
  retrain?: RetrainLauncher;
  /**
   * Training and evaluation as a service (`POST /mscr/train`, `GET /mscr/train/{id}`,
   * `POST /mscr/models/{m}/evaluate`): which `file://` folders requests may name, the known
   * architectures, the evaluator. The admin token is `adminToken`. Absent: file:// refused.
   */
  train?: Omit<TrainRoutesOptions, 'adminToken'>;
  /** A folder of static files served at `/` (the web page); absent: none. */
  webRoot?: string;
  /** The rollout admin routes (`service/rollout/admin.ts`); absent: none. */
  rolloutRoutes?: express.RequestHandler;
}

/**
 * Absolute paths and `file://` URIs in a message -> `<path>`: a store's or a data file's
 * location on this machine is no business of an anonymous caller (the log keeps them).
 */
export function redactPaths(message: string): string {
  return message
    .replace(/file:\/\/[^\s"',;)]*/g, 'file://<path>')
    .replace(/(^|[\s"'(=])\/(?:[\w.@+-]+\/)+[\w.@+-]*/g, '$1<path>');
}

/** An error of zlib (`Z_DATA_ERROR`, `Z_BUF_ERROR`, ...) or brotli (`ERR__ERROR_FORMAT_...`). */
function isDecompressionError(error: unknown): boolean {
  const { code, errno } = (error ?? {}) as { code?: unknown; errno?: unknown };
  return (
    typeof errno === 'number' &&
    typeof code === 'string' &&
    (code.startsWith('Z_') || code.startsWith('ERR__ERROR_'))
  );
}

/** Distinct model label values on the request metrics; later models are counted as `other`. */
const MAX_MODEL_LABELS = 500;

/** What a handler gets: the matched route, the body, and where to note model and version for metrics. */
interface Call {
  route: Route;
  req: Request;
  res: Response;
  body: Buffer;
}

type Handler = (call: Call) => Promise<unknown> | unknown;

function protocolOf(route: Route | undefined): Protocol {
  if (route === undefined) return 'other';
  if (route.api !== 'mscr') return route.api;
  if (route.kind === 'tabular') return 'tabular';
  if (route.kind === 'classify' || route.kind === 'detect') return 'image';
  return route.kind === 'forecast' ? 'csv' : 'sr';
}

function selectorOf(route: Route): VersionSelector | undefined {
  return 'selector' in route ? route.selector : undefined;
}

function modelOf(route: Route): string {
  if (!('model' in route)) throw new MscrError('internal', `route ${route.kind} has no model`);
  return route.model;
}

function toFloat32(tensor: DecodedTensor): Float32Array {
  return tensor.data instanceof Float32Array ? tensor.data : Float32Array.from(tensor.data);
}

/** Every output of a result, named as the manifest names them. */
function outputsOf(result: InferResult): OutputTensor[] {
  return result.outputs.map((o) => ({ name: o.name, shape: o.shape, data: o.data }));
}

/**
 * Whether `GET /v1/models/{m}` adds KServe V1's `name` and `ready` to TF Serving's
 * `GetModelStatusResponse`. Strict protobuf JSON parsers of TF Serving clients reject unknown
 * fields, so they are added only when asked for (`?format=kserve`) or for the KServe Python
 * SDK, whose `is_model_ready` reads `ready` and which sends no such parameter: it is known by
 * its HTTP library's User-Agent (`python-httpx/...`). `?format=tfserving` always gives the
 * strict shape.
 */
function wantsKServeStatus(req: Request): boolean {
  const format = req.query.format;
  if (format === 'kserve') return true;
  if (format === 'tfserving') return false;
  if (format !== undefined) {
    throw new MscrError(
      'bad_request',
      'format must be "kserve" (adds name and ready) or "tfserving" (GetModelStatusResponse only)',
    );
  }
  return /^python-httpx\//.test(req.get('user-agent') ?? '');
}

/** A V1 answer as TF Serving writes it (NaN and ±Infinity as bare tokens). */
function sendTfServingJson(res: Response, value: unknown): undefined {
  res.setHeader('Content-Type', 'application/json');
  res.end(stringifyTfServingJson(value));
  return undefined;
}

/** JSON with exactly `Content-Type: application/json` (no charset: some clients compare). */
function sendJson(res: Response, value: unknown): void {
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify(value));
}

/** The request id: the caller's `X-Request-Id` when it is sane, else a new one. */
function requestIdOf(req: Request): string {
  const given = req.get('x-request-id');
  return given && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
}

/** The CSV a forecast's window is kept as: the model's columns, then the rows, oldest first. */
function windowCsv(columns: readonly string[], rows: readonly number[][]): string {
  return `${columns.join(',')}\n${rows.map((row) => row.join(',')).join('\n')}\n`;
}

function launcherOf(retrain: RetrainLauncher | undefined): RetrainLauncher {
  if (retrain === undefined) {
    throw new MscrError(
      'unavailable',
      'retraining is not set up in this service: it was started without a retraining launcher',
      { status: 501 },
    );
  }
  return retrain;
}

function methodFits(expected: 'GET' | 'POST', actual: string): boolean {
  return actual === expected || (expected === 'GET' && actual === 'HEAD');
}

function notAllowed(res: Response, req: Request, method: 'GET' | 'POST'): MscrError {
  res.setHeader('Allow', method);
  const path = req.path.length > 128 ? `${req.path.slice(0, 128)}...` : req.path;
  return new MscrError('bad_request', `${path} takes ${method}, not ${req.method.slice(0, 16)}`, {
    status: 405,
  });
}

export function createApp(options: AppOptions): express.Express {
  const { dataPlane, metrics, logger, limits, monitoring } = options;
  const feedbackOptions = options.feedback ?? {
    token: '',
    maxBodyBytes: 2 * 1024 * 1024,
    ratePerSecond: 20,
    burst: 400,
    maxRecordsPerHour: 20_000,
    maxBytesPerHour: 256 * 1024 * 1024,
  };
  const feedbackLimiter = new FeedbackLimiter(feedbackOptions);
  const train = createTrainRoutes({
    fileRoots: [],
    ...options.train,
    adminToken: options.adminToken,
  });
  const trainContext = (call: Call) => ({
    ...call,
    launcher: () => launcherOf(options.retrain),
    draining: () => dataPlane.draining,
    log: (message: string, fields: Record<string, unknown>) =>
      logger.warn(message, { ...fields, error: String(fields.error) }),
  });
  // The model label comes from the path: a model this service does not know is `unknown`,
  // and the known ones are capped too (a store can hold any number of models).
  const modelLabels = new LabelCap(MAX_MODEL_LABELS);
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  const setVersion = (res: Response, result: { version: number }) => {
    res.locals.version = String(result.version);
  };

  // One function per protocol: V1 / TF Serving, Open Inference V2, and the curl conveniences.
  const handlers: Record<Route['kind'], Handler> = {
    models: () => modelsResponse(dataPlane.listModels()),

    status: ({ route, req }) => {
      const model = modelOf(route);
      const status = dataPlane.status(model);
      const selector = selectorOf(route);
      let versions = status.versions;
      if (selector) {
        const version =
          'version' in selector
            ? selector.version
            : Object.hasOwn(status.aliases, selector.label)
              ? status.aliases[selector.label]
              : undefined;
        if (version === undefined)
          throw new MscrError(
            'not_found',
            `model ${model} has no label ${JSON.stringify('label' in selector ? selector.label : '')}`,
          );
        versions = versions.filter((v) => v.version === version);
        if (versions.length === 0)
          throw new MscrError(
            'not_found',
            `model ${model} has no version ${version} loaded or loading`,
          );
      }
      const response = modelStatusResponse(
        versions.map((v) => ({
          version: v.version,
          state: v.state,
          ...(v.error ? { error: redactPaths(v.error) } : {}),
        })),
      );
      return wantsKServeStatus(req) ? { name: model, ready: status.ready, ...response } : response;
    },

    metadata: ({ route, res }) => {
      const { version, manifest } = dataPlane.manifest(modelOf(route), selectorOf(route));
      setVersion(res, { version });
      return v1ModelMetadata(manifest, version);
    },

    'tf-classify': async ({ route, body, res }) => {
      const json = parseTfServingJson(body);
      const result = await dataPlane.infer(modelOf(route), selectorOf(route), (manifest) => {
        const decoded = decodeExamples(json, manifest, limits);
        return { input: decoded.input, shape: [decoded.rows, decoded.input.length / decoded.rows] };
      });
      setVersion(res, result);
      return encodeClassificationResult(result.manifest, outputsOf(result)[0] as OutputTensor);
    },

    'tf-regress': async ({ route, body, res }) => {
      const json = parseTfServingJson(body);
      const result = await dataPlane.infer(modelOf(route), selectorOf(route), (manifest) => {
        const decoded = decodeExamples(json, manifest, limits);
        return { input: decoded.input, shape: [decoded.rows, decoded.input.length / decoded.rows] };
      });
      setVersion(res, result);
      return encodeRegressionResult(result.manifest, outputsOf(result)[0] as OutputTensor);
    },

    predict: async ({ route, body, res }) => {
      const json = parseTfServingJson(body);
      let format: 'row' | 'columnar' = 'row';
      const result = await dataPlane.infer(modelOf(route), selectorOf(route), async (manifest) => {
        const decoded = await decodeV1PredictRequest(json, manifest, limits);
        format = decoded.format;
        // Every input reaches the engine by name.
        return preparedInputs(decoded.inputs);
      });
      setVersion(res, result);
      return sendTfServingJson(res, encodeV1PredictResponse(format, outputsOf(result)));
    },

    'server-metadata': () => ({
      name: 'mscr',
      version: options.serverVersion,
      extensions: ['binary_tensor_data'],
    }),
    live: ({ res }) => {
      res.status(dataPlane.live() ? 200 : 503);
      return { live: dataPlane.live() };
    },
    ready: ({ res }) => {
      const ready = dataPlane.ready();
      res.status(ready ? 200 : 503);
      return { ready };
    },

    'model-metadata': ({ route, res }) => {
      const model = modelOf(route);
      const { version, manifest } = dataPlane.manifest(model, selectorOf(route));
      setVersion(res, { version });
      const available = dataPlane
        .status(model)
        .versions.filter((v) => v.state === 'AVAILABLE')
        .map((v) => v.version);
      return v2ModelMetadata(manifest, available);
    },
    'model-ready': ({ route, res }) => {
      // An unknown model, version or alias is a 404 (as its metadata is); a known one that
      // is not serving (loading, failed) is 503.
      dataPlane.requireVersion(modelOf(route), selectorOf(route));
      const ready = dataPlane.modelReady(modelOf(route), selectorOf(route));
      res.status(ready ? 200 : 503);
      return { name: modelOf(route), ready };
    },

    infer: async ({ route, body, req, res }) => {
      // Every V2 answer has an id: the request's, else this request's X-Request-Id.
      const requestId = res.locals.requestId as string;
      const { json, binary } = splitInferBody(body, req.get(HEADER_LENGTH));
      const request = inlineBinaryInputs(json, binary, limits.maxElements);
      let decoded: ReturnType<typeof decodeInferRequest> | undefined;
      let rows: LoggedInput[] = [];
      const result = await dataPlane.infer(modelOf(route), selectorOf(route), (manifest) => {
        decoded = decodeInferRequest(request, manifest, limits);
        const first = decoded.inputs[0] as DecodedTensor;
        // The prediction log keeps the first input's rows (one tensor per row).
        rows = tensorRows(toFloat32(first), first.shape);
        return preparedInputs(decoded.inputs);
      });
      setVersion(res, result);
      const response = encodeInferResponse(
        result.model,
        result.version,
        outputsOf(result),
        decoded?.outputs,
        decoded?.id ?? requestId,
      );
      // One id per row, as a response parameter (V2 parameters are scalars: comma-separated).
      const ids = monitoring.remember(result, (row) => rows[row]);
      if (ids.length > 0)
        response.parameters = { ...response.parameters, prediction_ids: ids.join(',') };
      const wanted = binaryOutputsWanted(json);
      if (wanted !== 'all' && wanted.size === 0) return response;
      const encoded = encodeBinaryResponse(response, wanted);
      if (encoded.headerLength !== undefined) {
        res.setHeader('Inference-Header-Content-Length', String(encoded.headerLength));
        res.type('application/octet-stream');
      } else {
        res.type('application/json');
      }
      res.end(encoded.body);
      return undefined;
    },

    classify: async ({ route, body, req, res }) => {
      const k = parseTopK(req.query.top ?? req.query.top_k);
      const image = await imageFromBody(body, req.get('content-type'));
      let logged: LoggedInput | undefined;
      const result = await dataPlane.infer(modelOf(route), selectorOf(route), async (manifest) => {
        refuseDetector(manifest);
        const input = await decodeImageBody(image.bytes, manifest, {
          ...(image.name ? { source: image.name } : {}),
          ...(limits.images ? { policy: limits.images } : {}),
        });
        const spec = manifest.inputs[0]?.shape ?? [];
        const shape = [1, ...spec.slice(1)];
        logged = monitoring.imageInput(image.bytes, input, shape);
        return { input, shape };
      });
      setVersion(res, result);
      const ids = monitoring.remember(result, () => logged);
      return encodeClassifyResponse(
        result.manifest,
        result.version,
        outputsOf(result)[0] as OutputTensor,
        k,
        ids,
      );
    },

    // Detection: the one batched inference, then decode + NMS for this image, in its pixels.
    detect: async ({ route, body, req, res }) => {
      const params = parseDetectParams(req.query);
      const image = await imageFromBody(body, req.get('content-type'));
      let size = { width: 0, height: 0 };
      const result = await dataPlane.infer(modelOf(route), selectorOf(route), async (manifest) => {
        detectorOf(manifest); // a classifier is a 400 before its image is decoded
        const decoded = await decodeImageBodyWithSize(image.bytes, manifest, {
          ...(image.name ? { source: image.name } : {}),
          ...(limits.images ? { policy: limits.images } : {}),
        });
        size = { width: decoded.size.width, height: decoded.size.height };
        const spec = manifest.inputs[0]?.shape ?? [];
        return { input: decoded.input, shape: [1, ...spec.slice(1)] };
      });
      setVersion(res, result);
      // The manifest of the version that answered (a rollout's fallback may be another).
      const detector = detectorOf(result.manifest);
      const output = boxOutputOf(detector, outputsOf(result));
      const found = detectionsOf(detector, output, size, params);
      const id = monitoring.rememberDetections(result, found.length, image.bytes);
      return encodeDetectResponse(result.manifest, result.version, id, size, found);
    },

    forecast: async ({ route, body, req, res }) => {
      const order = parseCsvOrder(req.query.order);
      const text = body.toString('utf8');
      let logged: LoggedInput | undefined;
      const result = await dataPlane.infer(modelOf(route), selectorOf(route), (manifest) => {
        const { rows, input } = readCsvWindow(text, manifest, { order });
        if (manifest.preprocessing.kind === 'series')
          logged = { kind: 'csv', text: windowCsv(manifest.preprocessing.columns, rows) };
        const spec = manifest.inputs[0]?.shape ?? [];
        return { input, shape: [1, ...spec.slice(1)] };
      });
      setVersion(res, result);
      const ids = monitoring.remember(result, () => logged);
      return encodeForecastResponse(
        result.manifest,
        result.version,
        outputsOf(result)[0] as OutputTensor,
        ids,
      );
    },

    tabular: async ({ route, body, req, res }) => {
      // JSON by content type, or by its first character when the type says neither.
      const type = req.get('content-type')?.toLowerCase() ?? '';
      const json =
        type.includes('json') ||
        (!type.includes('csv') && body.toString('utf8', 0, 64).trimStart().startsWith('{'));
      const parsed = json ? parseJsonBody(body) : undefined;
      let rows: LoggedInput[] = [];
      const result = await dataPlane.infer(modelOf(route), selectorOf(route), (manifest) => {
        const decoded = json
          ? decodeRowsJson(parsed, manifest, limits)
          : decodeRowsCsv(body.toString('utf8'), manifest, limits);
        const shape = [decoded.rows, decoded.input.length / decoded.rows];
        rows = tensorRows(decoded.input, shape);
        return { input: decoded.input, shape };
      });
      setVersion(res, result);
      const ids = monitoring.remember(result, (row) => rows[row]);
      return encodeTabularResponse(
        result.manifest,
        result.version,
        outputsOf(result)[0] as OutputTensor,
        ids,
      );
    },

    // SR connector: feedback in, signals out, retraining runs on request.
    // Feedback becomes training data: the token (when configured), JSON only (no simple
    // cross-site post), a smaller body limit, then a rate limit and quota per model.
    feedback: async ({ route, body, req, res }) => {
      const model = modelOf(route);
      dataPlane.status(model); // an unknown model is a 404 before the body is read
      const authenticated = feedbackOptions.token !== '';
      if (authenticated) requireBearer(req, res, feedbackOptions.token, 'feedback');
      requireJson(req, 'feedback');
      if (body.length > feedbackOptions.maxBodyBytes) {
        throw new MscrError(
          'payload_too_large',
          `the feedback body is larger than the limit of ${feedbackOptions.maxBodyBytes} bytes (MSCR_FEEDBACK_MAX_BODY_BYTES)`,
        );
      }
      feedbackLimiter.admit(model);
      const response = await monitoring.feedback(
        model,
        parseJsonBody(body),
        (m) => dataPlane.manifest(m),
        limits,
        { authenticated },
      );
      feedbackLimiter.record(model, body.length);
      if (response.version !== undefined) setVersion(res, { version: response.version });
      res.status(201);
      return response;
    },

    signals: ({ route }) => {
      const model = modelOf(route);
      dataPlane.status(model);
      return monitoring.signalsOf(model, (version): ModelManifest | undefined => {
        try {
          return dataPlane.manifest(model, { version }).manifest;
        } catch (error) {
          if (isMscrError(error, 'unavailable') || isMscrError(error, 'not_found'))
            return undefined;
          throw error;
        }
      });
    },

    retrain: async ({ route, req, res, body }) => {
      requireAdmin(req, res, options.adminToken);
      const model = modelOf(route);
      dataPlane.status(model);
      const launcher = launcherOf(options.retrain);
      const request = parseRetrainRequest(body.length === 0 ? undefined : parseJsonBody(body));
      const { runId } = await launcher.start(model, {
        kind: 'request',
        ...(request.reason !== undefined ? { reason: request.reason } : {}),
      });
      res.status(202).setHeader('Location', mscrRunsPath(model));
      return { model, runId, state: 'started' } satisfies RetrainResponse;
    },

    runs: async ({ route, req }) => {
      const model = modelOf(route);
      dataPlane.status(model);
      const limit = parseLimit(req.query.limit);
      return await launcherOf(options.retrain).runs(model, { limit });
    },

    // Training and evaluation as a service (service/http/train.ts), behind the admin token.
    train: (call) => train.train(trainContext(call)),
    'train-status': (call) =>
      train.status(trainContext(call), call.route.kind === 'train-status' ? call.route.id : ''),
    evaluate: (call) => {
      const model = modelOf(call.route);
      return train.evaluate(trainContext(call), model);
    },
  };

  // Request id, in-flight gauge, latency and status metrics, one access log line.
  app.use((req, res, next) => {
    const started = process.hrtime.bigint();
    // While draining, tell clients to open their next request elsewhere.
    if (dataPlane.draining) res.setHeader('Connection', 'close');
    const id = requestIdOf(req);
    res.setHeader('X-Request-Id', id);
    // API answers are data, never a document to sniff, render or frame.
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('X-Frame-Options', 'DENY');
    res.locals.requestId = id;
    let route: Route | undefined;
    try {
      route = matchRoute(req.path);
    } catch {
      route = undefined; // a malformed path: the dispatcher answers it
    }
    res.locals.route = route;
    const protocol = protocolOf(route);
    metrics.inFlight.inc({ protocol });
    res.on('close', () => {
      metrics.inFlight.dec({ protocol });
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const model =
        route && 'model' in route
          ? dataPlane.knows(route.model)
            ? modelLabels.of(route.model)
            : 'unknown'
          : '';
      const labels = {
        model,
        version: (res.locals.version as string | undefined) ?? '',
        protocol,
        status: String(res.statusCode),
      };
      if (route && route.kind !== 'live' && route.kind !== 'ready') {
        metrics.requests.inc(labels);
        metrics.requestDuration.observe(labels, seconds);
      }
      const fields = {
        requestId: id,
        method: req.method,
        path: req.path.length > 256 ? `${req.path.slice(0, 256)}...` : req.path,
        status: res.statusCode,
        ms: Math.round(seconds * 1e4) / 10,
        ...(res.locals.error ? { error: res.locals.error as string } : {}),
      };
      // Probes answer 503 while not ready: that is their answer, not a failure.
      const probe =
        route?.kind === 'live' ||
        route?.kind === 'ready' ||
        route?.kind === 'model-ready' ||
        req.path === '/metrics' ||
        req.path === '/';
      if (probe && (res.statusCode < 500 || res.statusCode === 503))
        logger.debug('request', fields);
      else if (res.statusCode >= 500) logger.error('request failed', fields);
      else logger.info('request', fields);
    });
    next();
  });

  app.get('/metrics', async (_req, res, next) => {
    try {
      res.setHeader('Content-Type', metrics.registry.contentType);
      res.end(await metrics.registry.metrics());
    } catch (error) {
      next(error);
    }
  });

  // `GET /` is KServe V1's liveness (`{"status": "alive"}`, read by the kserve SDK's
  // is_server_live) for clients that ask for JSON or do not take HTML; browsers get the page.
  app.get('/', (req, res, next) => {
    res.vary('Accept');
    if (options.webRoot !== undefined && req.accepts(['json', 'html']) === 'html') {
      next();
      return;
    }
    sendJson(res, { status: 'alive' });
  });

  // The web page, if any: GET and HEAD of paths outside the API only.
  if (options.webRoot !== undefined) app.use(serveStatic(options.webRoot));

  // Every body is read raw with one size limit; each route decodes it (JSON, image, CSV).
  app.use(express.raw({ type: () => true, limit: limits.maxBodyBytes }));
  if (options.rolloutRoutes !== undefined) app.use(options.rolloutRoutes);

  app.use(async (req, res, next) => {
    try {
      let route: Route | undefined;
      try {
        route = matchRoute(req.path);
      } catch (error) {
        // A wrong method is a 405 even when a segment of the path is invalid too.
        const method = methodOfPath(req.path);
        if (method !== undefined && !methodFits(method, req.method))
          throw notAllowed(res, req, method);
        throw error;
      }
      if (route === undefined)
        throw new MscrError(
          'not_found',
          `no route for ${req.method.slice(0, 16)} ${req.path.length > 128 ? `${req.path.slice(0, 128)}...` : req.path}; see GET /v2 and /v1/models`,
        );
      if (!methodFits(route.method, req.method)) throw notAllowed(res, req, route.method);
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      // Rollouts: a canary split by caller key, carried to the data plane (see rollout/context.ts).
      const caller = callerKeyOf(req.get(CALLER_HEADER), res.locals.requestId as string);
      const result = await withCaller(caller, () =>
        handlers[route.kind]({ route, req, res, body }),
      );
      if (!res.headersSent) sendJson(res, result);
    } catch (error) {
      next(error);
    }
  });

  // The one place errors become responses.
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    let mapped = error;
    const bodyError = error as { type?: string; status?: number; limit?: number };
    if (bodyError.type === 'entity.too.large') {
      mapped = new MscrError(
        'payload_too_large',
        `the request body is larger than the limit of ${limits.maxBodyBytes} bytes`,
      );
    } else if (isDecompressionError(error)) {
      // zlib or brotli failed on a body declared gzip, deflate or br: the body is wrong.
      mapped = new MscrError(
        'bad_request',
        'the request body is not valid data for its Content-Encoding',
      );
    } else if (bodyError.type === 'encoding.unsupported') {
      mapped = new MscrError(
        'bad_request',
        'the request body has a Content-Encoding this server cannot decode: send it uncompressed, or with gzip, deflate or br',
        { status: 415 },
      );
    } else if (bodyError.type === 'request.aborted') {
      mapped = new MscrError(
        'bad_request',
        'the client closed the connection before the body was complete',
      );
    } else if (
      typeof bodyError.type === 'string' &&
      typeof bodyError.status === 'number' &&
      bodyError.status < 500
    ) {
      mapped = new MscrError('bad_request', `unreadable request body: ${(error as Error).message}`);
    }
    const { status, body: raw } = toErrorResponse(mapped);
    res.locals.error = raw.error;
    // The log keeps the whole message; the anonymous caller gets no absolute paths.
    const body = { error: redactPaths(raw.error) };
    if (mapped instanceof RateLimited && !res.headersSent)
      res.setHeader('Retry-After', String(mapped.retryAfterSeconds));
    if (status >= 500 && !(mapped instanceof MscrError)) {
      logger.error('unexpected error', {
        requestId: res.locals.requestId as string,
        error: (error as Error)?.stack ?? String(error),
      });
    }
    if (res.headersSent) {
      res.end();
      return;
    }
    // Exactly `application/json`: the kserve SDK shows an error's text only for that type.
    res.status(status);
    sendJson(res, body);
  });

  return app;
}
