/**
 * The HTTP front controller: one Express app, every route of the SC connector matched by
 * `matchRoute`, protocol adapters registered one function per protocol, errors mapped to
 * `{"error": "..."}` in one place (error-response.ts). The data plane below knows no HTTP.
 * V2 infer and V1 predict run through inference.ts, reached by the fast lane (fast-lane.ts)
 * for ordinary requests and by this app for the rest (compressed bodies, say).
 */
import type { RequestListener } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import { MscrError, isMscrError } from '../../connectors/errors.ts';
import type { ModelManifest } from '../../connectors/ms/manifest.ts';
import { matchRoute, methodOfPath, mscrRunsPath, type Route } from '../../connectors/sc/index.ts';
import type { RetrainLauncher, RetrainResponse } from '../../connectors/sr/index.ts';
import type { DataPlane } from '../dataplane/index.ts';
import { tensorRows, type LoggedInput, type Monitoring } from '../monitoring/index.ts';
import type { Logger } from '../observability/log.ts';
import type { ServiceMetrics } from '../observability/metrics.ts';
import {
  boxOutputOf,
  decodeImageBody,
  decodeImageBodyWithSize,
  detectionsOf,
  detectorOf,
  encodeDetectResponse,
  parseDetectParams,
  refuseDetector,
  encodeClassifyResponse,
  encodeForecastResponse,
  decodeRowsCsv,
  decodeRowsJson,
  encodeTabularResponse,
  modelStatusResponse,
  modelsResponse,
  parseCsvOrder,
  parseTopK,
  readCsvWindow,
  v2ModelMetadata,
  HEADER_LENGTH,
  decodeExamples,
  encodeClassificationResult,
  encodeRegressionResult,
  parseTfServingJson,
  v1ModelMetadata,
  type DecodeLimits,
  type OutputTensor,
} from '../protocols/index.ts';
import { FeedbackLimiter } from '../monitoring/feedback-limits.ts';
import {
  parseLimit,
  parseRetrainRequest,
  requireAdmin,
  requireBearer,
  requireJson,
} from './admin.ts';
import { imageFromBody, parseJsonBody } from './body.ts';
import { redactPaths, writeHttpError } from './error-response.ts';
import { createInferenceFastLane } from './fast-lane.ts';
import {
  answerV1Predict,
  answerV2Infer,
  modelRouteOf,
  outputsOf,
  selectorOf,
  writeAnswer,
} from './inference.ts';
import { createRequestObserver, type RequestRecord } from './observe.ts';
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

/** What a handler gets: the matched route, the body, and where to note model and version for metrics. */
interface Call {
  route: Route;
  req: Request;
  res: Response;
  body: Buffer;
}

type Handler = (call: Call) => Promise<unknown> | unknown;

function recordOf(res: Response): RequestRecord {
  return res.locals.record as RequestRecord;
}

function modelOf(route: Route): string {
  return modelRouteOf(route).model;
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

/** JSON with exactly `Content-Type: application/json` (no charset: some clients compare). */
function sendJson(res: Response, value: unknown): void {
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify(value));
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

export function createApp(options: AppOptions): RequestListener {
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
  const inference = { dataPlane, monitoring, limits };
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  const setVersion = (res: Response, result: { version: number }) => {
    recordOf(res).version = String(result.version);
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
      const answer = await answerV1Predict(inference, modelRouteOf(route), body);
      setVersion(res, answer);
      writeAnswer(res, answer);
      return undefined;
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
      const { id } = recordOf(res);
      const answer = await answerV2Infer(
        inference,
        modelRouteOf(route),
        body,
        req.get(HEADER_LENGTH),
        id,
      );
      setVersion(res, answer);
      writeAnswer(res, answer);
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
  const observe = createRequestObserver({ dataPlane, metrics, logger });
  app.use((req, res, next) => {
    let route: Route | undefined;
    try {
      route = matchRoute(req.path);
    } catch {
      route = undefined; // a malformed path: the dispatcher answers it
    }
    res.locals.record = observe(req, res, req.path, route);
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
      const caller = callerKeyOf(req.get(CALLER_HEADER), recordOf(res).id);
      const result = await withCaller(caller, () =>
        handlers[route.kind]({ route, req, res, body }),
      );
      if (!res.headersSent) sendJson(res, result);
    } catch (error) {
      next(error);
    }
  });

  // The one place errors become responses (error-response.ts, shared with the fast lane).
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    writeHttpError(res, error, {
      maxBodyBytes: limits.maxBodyBytes,
      logger,
      record: res.locals.record as RequestRecord | undefined,
    });
  });

  // Inference requests take the fast lane; everything else (and anything unusual) Express.
  const fastLane = createInferenceFastLane({
    context: inference,
    observe,
    maxBodyBytes: limits.maxBodyBytes,
    logger,
  });
  return (req, res) => {
    if (!fastLane(req, res)) app(req, res);
  };
}
