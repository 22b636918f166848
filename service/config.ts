/**
 * Service configuration: defaults, then environment variables, then flags (the CLI passes
 * them as overrides). Validated once at start with messages that say what to fix.
 */
import os from 'node:os';
import path from 'node:path';
import { MscrError } from '../connectors/errors.ts';
import { validateModelName } from '../connectors/ms/manifest.ts';
import { isRemoteStore } from '../connectors/store/index.ts';
import {
  checkBrokerUrl,
  checkTemplate,
  DEFAULT_AMQP,
  DEFAULT_MQTT,
  DEFAULT_RUN_POLL_MS,
  type AmqpSettings,
  type MqttSettings,
} from './brokers/names.ts';
import {
  DEFAULT_IMAGE_FORMATS,
  parseImageFormats,
  type ImageFormat,
} from './protocols/image-policy.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

export interface ServiceConfig {
  /** Model store URI (`file://`, `s3://`, `gs://`). */
  store: string;
  /**
   * Folder of the content cache: files kept by sha256 so a version is downloaded once per
   * cache. `''` = no cache. Default: `<tmpdir>/mscr-cache` for s3:// and gs:// stores, none
   * for a local folder (it would only copy it). `off` in the settings turns it off.
   */
  cacheDir: string;
  /** Most bytes the content cache keeps before dropping the least recently used files. */
  cacheMaxBytes: number;
  /** Models to serve; empty = every model in the store. */
  models: string[];
  /** Version policy: `latest`, `latest:N`, `all`, `specific:1,3`, `alias:stable`. */
  policy: string;
  pollIntervalMs: number;
  /** How often the rollout controller analyses running rollouts (progressive delivery). */
  rolloutIntervalMs: number;
  host: string;
  port: number;
  /**
   * gRPC (Open Inference Protocol, TF Serving, health) on its own port, as KServe serves it
   * beside REST: 8081 by default, `0` turns it off. When the HTTP port is 0 (any free
   * port, as in tests) and no gRPC port is set, gRPC takes any free port too.
   */
  grpc: {
    /** `undefined`: any free port (only when `port` is 0); `0`: off. */
    port: number | undefined;
    /** Largest message received or sent. */
    maxMessageBytes: number;
    /** PEM files; both or neither. Empty: plaintext (h2c). */
    tlsCert: string;
    tlsKey: string;
  };
  /** Inference worker threads (the wasm backend is single-threaded in Node). */
  workers: number;
  /**
   * Which engine serves a version that has several forms: `auto` (ONNX Runtime when the
   * version has an ONNX form), `tfjs` or `onnx`. A version with one form serves on it.
   */
  engine: 'auto' | 'tfjs' | 'onnx';
  /**
   * ONNX Runtime intra-op threads per session; every worker has its own sessions, so the
   * threads computing at once are `workers x onnxThreads`. Default `max(1, floor(cores /
   * workers))`: that product fits the cores. More threads per worker and fewer workers
   * favour single-request latency on big models; more workers favour many small requests.
   */
  onnxThreads: number;
  /**
   * Where ONNX Runtime sessions run: `workers` (a session per worker thread, the default) or
   * `main` (one session per model on the service's own thread, no hop to a worker; suits
   * small models behind `--http-processes`; see service/engine/in-process.ts).
   */
  onnxPlacement: 'workers' | 'main';
  /**
   * Idle ONNX Runtime intra-op threads spin for the next piece of work instead of sleeping.
   * Default false (throughput under load: the cores stay free for HTTP work); true answers a
   * lone request sooner when the cores are otherwise idle. No effect with one thread.
   */
  onnxSpinning: boolean;
  batching: { maxBatchSize: number; maxQueueDelayMs: number };
  limits: {
    /** Largest request body, JSON or image. */
    maxBodyBytes: number;
    /** Largest number of tensor elements in one request. */
    maxElements: number;
    /** Open connections at most (Node's server.maxConnections). */
    maxConnections: number;
    /** Longest time to receive one whole request, headers and body (server.requestTimeout). */
    requestTimeoutMs: number;
  };
  /** How long SIGTERM waits for in-flight requests before exiting anyway. */
  drainTimeoutMs: number;
  logLevel: LogLevel;
  backend: 'auto' | 'tensorflow' | 'wasm' | 'cpu';
  /**
   * Bearer token of `POST /mscr/models/{m}/retrain`; `''` turns retraining over HTTP off.
   * At least 16 characters (e.g. `openssl rand -hex 32`).
   */
  adminToken: string;
  /** The recent predictions each replica remembers by id, for feedback (oldest go first). */
  predictionLog: { maxEntries: number; maxBytes: number };
  /** Event-driven intake (service/brokers): each adapter is on when its URL is set. */
  brokers: { amqp: AmqpSettings; mqtt: MqttSettings; runPollMs: number };
  feedback: FeedbackConfig;
  images: {
    /** Formats decoded (by magic bytes); never SVG. */
    formats: ImageFormat[];
    /** A fixed pixel cap; 0: derived from each model's input size (256x its pixels, 4-40 MP). */
    maxPixels: number;
    /** Most images in one request (V1 `{"b64"}` instances). */
    maxPerRequest: number;
    /** Image decodes at once over the process. */
    decodeConcurrency: number;
  };
}

/**
 * Which feedback retraining may use without a review: `any` (everything), `prediction`
 * (feedback with the feedback token, or about a prediction this replica remembers, whose
 * input is the service's own record), `token` (only feedback with the feedback token),
 * `review` (nothing: every piece waits in quarantine for `mscr feedback review`).
 */
export type FeedbackTrustThreshold = 'any' | 'prediction' | 'token' | 'review';
const TRUST_THRESHOLDS: readonly FeedbackTrustThreshold[] = [
  'any',
  'prediction',
  'token',
  'review',
];

export interface FeedbackConfig {
  /** Bearer token every feedback post must carry; `''`: feedback is open (and less trusted). */
  token: string;
  trust: FeedbackTrustThreshold;
  /** Per model and replica: posts per second (a token bucket) and the burst it allows. */
  ratePerSecond: number;
  burst: number;
  /** Per model and replica: records and stored bytes in any hour. */
  maxRecordsPerHour: number;
  maxBytesPerHour: number;
  /** Largest feedback body (an image as base64 counts 4/3 of its size). */
  maxBodyBytes: number;
}

export const DEFAULTS: ServiceConfig = {
  store: 'file://./models',
  cacheDir: '',
  cacheMaxBytes: 4 * 1024 ** 3,
  models: [],
  policy: 'latest',
  pollIntervalMs: 5_000,
  rolloutIntervalMs: 30_000,
  host: '0.0.0.0',
  port: 8080,
  grpc: { port: 8081, maxMessageBytes: 8 * 1024 * 1024, tlsCert: '', tlsKey: '' },
  workers: Math.max(1, os.availableParallelism()),
  // Delay 0: a batch leaves at the end of the event-loop turn; under load the backlog that
  // waits for a busy worker forms the batches. A fixed delay only slowed light traffic.
  batching: { maxBatchSize: 32, maxQueueDelayMs: 0 },
  limits: {
    maxBodyBytes: 8 * 1024 * 1024,
    maxElements: 4_000_000,
    maxConnections: 2048,
    requestTimeoutMs: 120_000,
  },
  drainTimeoutMs: 25_000,
  logLevel: 'info',
  backend: 'auto',
  engine: 'auto',
  // max(1, floor(cores / workers)): 1 with the default one worker per core.
  onnxThreads: 1,
  onnxPlacement: 'workers',
  onnxSpinning: false,
  adminToken: '',
  predictionLog: { maxEntries: 10_000, maxBytes: 64 * 1024 * 1024 },
  brokers: {
    amqp: DEFAULT_AMQP,
    mqtt: { ...DEFAULT_MQTT, clientId: `mscr-${os.hostname()}` },
    runPollMs: DEFAULT_RUN_POLL_MS,
  },
  feedback: {
    token: '',
    trust: 'prediction',
    ratePerSecond: 20,
    burst: 400,
    maxRecordsPerHour: 20_000,
    maxBytesPerHour: 256 * 1024 * 1024,
    maxBodyBytes: 2 * 1024 * 1024,
  },
  images: {
    formats: [...DEFAULT_IMAGE_FORMATS],
    maxPixels: 0,
    maxPerRequest: 16,
    decodeConcurrency: Math.max(1, os.availableParallelism()),
  },
};

/** The shortest admin token accepted. */
export const MIN_ADMIN_TOKEN_LENGTH = 16;

/** Everything settable, as text: from the environment or from flags. */
export interface ConfigText {
  store?: string;
  cacheDir?: string;
  cacheMaxBytes?: string;
  models?: string;
  policy?: string;
  pollInterval?: string; // seconds
  rolloutInterval?: string; // seconds
  host?: string;
  port?: string;
  grpcPort?: string;
  grpcMaxMessageBytes?: string;
  grpcTlsCert?: string;
  grpcTlsKey?: string;
  workers?: string;
  engine?: string;
  onnxThreads?: string;
  onnxPlacement?: string;
  onnxSpinning?: string;
  maxBatchSize?: string;
  maxQueueDelayMs?: string;
  maxBodyBytes?: string;
  maxElements?: string;
  drainTimeout?: string; // seconds
  logLevel?: string;
  backend?: string;
  adminToken?: string;
  predictionLogEntries?: string;
  predictionLogBytes?: string;
  amqpUrl?: string;
  amqpPrefetch?: string;
  amqpQueue?: string;
  amqpDeadQueue?: string;
  amqpCommonQueue?: string;
  amqpDeliveryLimit?: string;
  mqttUrl?: string;
  mqttClientId?: string;
  mqttTopic?: string;
  mqttResultTopic?: string;
  mqttInflight?: string;
  amqpRetrainQueue?: string;
  mqttRetrainTopic?: string;
  retrainEventsInterval?: string; // seconds
  feedbackToken?: string;
  feedbackTrust?: string;
  feedbackRate?: string;
  feedbackBurst?: string;
  feedbackMaxRecordsPerHour?: string;
  feedbackMaxBytesPerHour?: string;
  feedbackMaxBodyBytes?: string;
  maxConnections?: string;
  requestTimeout?: string; // seconds
  imageFormats?: string;
  maxImagePixels?: string;
  maxImagesPerRequest?: string;
  decodeConcurrency?: string;
}

/** The environment variables the service reads, by setting. */
export const ENV_VARS: Record<keyof ConfigText, string> = {
  store: 'MSCR_STORE',
  cacheDir: 'MSCR_CACHE_DIR',
  cacheMaxBytes: 'MSCR_CACHE_MAX_BYTES',
  models: 'MSCR_MODELS',
  policy: 'MSCR_POLICY',
  pollInterval: 'MSCR_POLL_INTERVAL',
  rolloutInterval: 'MSCR_ROLLOUT_INTERVAL',
  host: 'MSCR_HOST',
  port: 'MSCR_PORT',
  grpcPort: 'MSCR_GRPC_PORT',
  grpcMaxMessageBytes: 'MSCR_GRPC_MAX_MESSAGE_BYTES',
  grpcTlsCert: 'MSCR_GRPC_TLS_CERT',
  grpcTlsKey: 'MSCR_GRPC_TLS_KEY',
  workers: 'MSCR_WORKERS',
  engine: 'MSCR_ENGINE',
  onnxThreads: 'MSCR_ONNX_THREADS',
  onnxPlacement: 'MSCR_ONNX_PLACEMENT',
  onnxSpinning: 'MSCR_ONNX_SPINNING',
  maxBatchSize: 'MSCR_MAX_BATCH_SIZE',
  maxQueueDelayMs: 'MSCR_MAX_QUEUE_DELAY_MS',
  maxBodyBytes: 'MSCR_MAX_BODY_BYTES',
  maxElements: 'MSCR_MAX_ELEMENTS',
  drainTimeout: 'MSCR_DRAIN_TIMEOUT',
  logLevel: 'MSCR_LOG_LEVEL',
  backend: 'MSCR_BACKEND',
  adminToken: 'MSCR_ADMIN_TOKEN',
  predictionLogEntries: 'MSCR_PREDICTION_LOG_ENTRIES',
  predictionLogBytes: 'MSCR_PREDICTION_LOG_BYTES',
  feedbackToken: 'MSCR_FEEDBACK_TOKEN',
  feedbackTrust: 'MSCR_FEEDBACK_TRUST',
  feedbackRate: 'MSCR_FEEDBACK_RATE',
  feedbackBurst: 'MSCR_FEEDBACK_BURST',
  feedbackMaxRecordsPerHour: 'MSCR_FEEDBACK_MAX_RECORDS_PER_HOUR',
  feedbackMaxBytesPerHour: 'MSCR_FEEDBACK_MAX_BYTES_PER_HOUR',
  feedbackMaxBodyBytes: 'MSCR_FEEDBACK_MAX_BODY_BYTES',
  maxConnections: 'MSCR_MAX_CONNECTIONS',
  requestTimeout: 'MSCR_REQUEST_TIMEOUT',
  imageFormats: 'MSCR_IMAGE_FORMATS',
  maxImagePixels: 'MSCR_MAX_IMAGE_PIXELS',
  maxImagesPerRequest: 'MSCR_MAX_IMAGES_PER_REQUEST',
  decodeConcurrency: 'MSCR_DECODE_CONCURRENCY',
  amqpUrl: 'MSCR_AMQP_URL',
  amqpPrefetch: 'MSCR_AMQP_PREFETCH',
  amqpQueue: 'MSCR_AMQP_QUEUE',
  amqpDeadQueue: 'MSCR_AMQP_DEAD_QUEUE',
  amqpCommonQueue: 'MSCR_AMQP_COMMON_QUEUE',
  amqpDeliveryLimit: 'MSCR_AMQP_DELIVERY_LIMIT',
  mqttUrl: 'MSCR_MQTT_URL',
  mqttClientId: 'MSCR_MQTT_CLIENT_ID',
  mqttTopic: 'MSCR_MQTT_TOPIC',
  mqttResultTopic: 'MSCR_MQTT_RESULT_TOPIC',
  mqttInflight: 'MSCR_MQTT_INFLIGHT',
  amqpRetrainQueue: 'MSCR_AMQP_RETRAIN_QUEUE',
  mqttRetrainTopic: 'MSCR_MQTT_RETRAIN_TOPIC',
  retrainEventsInterval: 'MSCR_RETRAIN_EVENTS_INTERVAL',
};

export function configTextFromEnv(env: NodeJS.ProcessEnv = process.env): ConfigText {
  const text: ConfigText = {};
  for (const [key, variable] of Object.entries(ENV_VARS) as [keyof ConfigText, string][]) {
    const value = env[variable];
    if (value !== undefined && value !== '') text[key] = value;
  }
  // PORT is what most platforms set.
  if (text.port === undefined && env.PORT) text.port = env.PORT;
  return text;
}

function number(
  text: string | undefined,
  fallback: number,
  name: string,
  { min, max, integer }: { min: number; max: number; integer: boolean },
): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (
    text.trim() === '' ||
    !Number.isFinite(value) ||
    (integer && !Number.isInteger(value)) ||
    value < min ||
    value > max
  ) {
    throw new MscrError(
      'config',
      `${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${JSON.stringify(text)}`,
    );
  }
  return value;
}

const POLICY =
  /^(latest(:[1-9]\d*)?|all|specific:[1-9]\d*(,[1-9]\d*)*|alias:[a-z][a-z0-9-]{0,31})$/;

/** Builds the configuration; the first problem found is thrown as a `config` error. */
export function resolveConfig(...layers: ConfigText[]): ServiceConfig {
  const text: ConfigText = Object.assign(
    {},
    ...layers.map((l) => Object.fromEntries(Object.entries(l).filter(([, v]) => v !== undefined))),
  );
  const models = (text.models ?? '')
    .split(',')
    .map((m) => m.trim())
    .filter((m) => m !== '');
  models.forEach((m) => validateModelName(m));
  const policy = text.policy ?? DEFAULTS.policy;
  if (!POLICY.test(policy)) {
    throw new MscrError(
      'config',
      `policy must be latest, latest:N, all, specific:1,2 or alias:NAME, got ${JSON.stringify(policy)}`,
    );
  }
  const logLevel = (text.logLevel ?? DEFAULTS.logLevel) as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new MscrError(
      'config',
      `log level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(text.logLevel)}`,
    );
  }
  const backend = (text.backend ?? DEFAULTS.backend) as ServiceConfig['backend'];
  if (!['auto', 'tensorflow', 'wasm', 'cpu'].includes(backend)) {
    throw new MscrError(
      'config',
      `backend must be auto, tensorflow, wasm or cpu, got ${JSON.stringify(text.backend)}`,
    );
  }
  const engine = (text.engine ?? DEFAULTS.engine) as ServiceConfig['engine'];
  if (!['auto', 'tfjs', 'onnx'].includes(engine)) {
    throw new MscrError(
      'config',
      `engine must be auto, tfjs or onnx, got ${JSON.stringify(text.engine)}`,
    );
  }
  const onnxPlacement = (text.onnxPlacement ??
    DEFAULTS.onnxPlacement) as ServiceConfig['onnxPlacement'];
  if (!['workers', 'main'].includes(onnxPlacement)) {
    throw new MscrError(
      'config',
      `onnx placement must be workers or main, got ${JSON.stringify(text.onnxPlacement)}`,
    );
  }
  const onnxSpinning = text.onnxSpinning ?? (DEFAULTS.onnxSpinning ? 'on' : 'off');
  if (!['on', 'off'].includes(onnxSpinning)) {
    throw new MscrError(
      'config',
      `onnx spinning must be on or off, got ${JSON.stringify(text.onnxSpinning)}`,
    );
  }
  const workers = number(text.workers, DEFAULTS.workers, 'workers', {
    min: 1,
    max: 256,
    integer: true,
  });
  const cores = Math.max(1, os.availableParallelism());
  const store = text.store ?? DEFAULTS.store;
  const adminToken = text.adminToken ?? DEFAULTS.adminToken;
  if (adminToken !== '' && (adminToken.length < MIN_ADMIN_TOKEN_LENGTH || /\s/.test(adminToken))) {
    throw new MscrError(
      'config',
      `the admin token must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters without spaces (e.g. openssl rand -hex 32)`,
    );
  }
  const port = number(text.port, DEFAULTS.port, 'port', { min: 0, max: 65_535, integer: true });
  const tlsCert = text.grpcTlsCert ?? '';
  const tlsKey = text.grpcTlsKey ?? '';
  if ((tlsCert === '') !== (tlsKey === '')) {
    throw new MscrError(
      'config',
      `gRPC TLS needs both a certificate and a key (${ENV_VARS.grpcTlsCert}, ${ENV_VARS.grpcTlsKey}); got only the ${tlsCert === '' ? 'key' : 'certificate'}`,
    );
  }
  const feedbackToken = text.feedbackToken ?? DEFAULTS.feedback.token;
  if (
    feedbackToken !== '' &&
    (feedbackToken.length < MIN_ADMIN_TOKEN_LENGTH || /\s/.test(feedbackToken))
  ) {
    throw new MscrError(
      'config',
      `the feedback token must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters without spaces (e.g. openssl rand -hex 32)`,
    );
  }
  const trust = (text.feedbackTrust ?? DEFAULTS.feedback.trust) as FeedbackTrustThreshold;
  if (!TRUST_THRESHOLDS.includes(trust)) {
    throw new MscrError(
      'config',
      `feedback trust must be one of ${TRUST_THRESHOLDS.join(', ')}, got ${JSON.stringify(text.feedbackTrust)}`,
    );
  }
  const fb = DEFAULTS.feedback;
  const feedback: FeedbackConfig = {
    token: feedbackToken,
    trust,
    ratePerSecond: number(text.feedbackRate, fb.ratePerSecond, 'feedback rate (per second)', {
      min: 0.001,
      max: 1e6,
      integer: false,
    }),
    burst: number(text.feedbackBurst, fb.burst, 'feedback burst', {
      min: 1,
      max: 1e7,
      integer: true,
    }),
    maxRecordsPerHour: number(
      text.feedbackMaxRecordsPerHour,
      fb.maxRecordsPerHour,
      'feedback max records per hour',
      { min: 1, max: 1e9, integer: true },
    ),
    maxBytesPerHour: number(
      text.feedbackMaxBytesPerHour,
      fb.maxBytesPerHour,
      'feedback max bytes per hour',
      { min: 1024, max: Number.MAX_SAFE_INTEGER, integer: true },
    ),
    maxBodyBytes: number(text.feedbackMaxBodyBytes, fb.maxBodyBytes, 'feedback max body bytes', {
      min: 1024,
      max: 1024 ** 3,
      integer: true,
    }),
  };
  return {
    store,
    cacheDir:
      text.cacheDir === 'off'
        ? ''
        : (text.cacheDir ?? (isRemoteStore(store) ? path.join(os.tmpdir(), 'mscr-cache') : '')),
    cacheMaxBytes: number(text.cacheMaxBytes, DEFAULTS.cacheMaxBytes, 'cache max bytes', {
      min: 1024 * 1024,
      max: Number.MAX_SAFE_INTEGER,
      integer: true,
    }),
    models,
    policy,
    pollIntervalMs:
      number(text.pollInterval, DEFAULTS.pollIntervalMs / 1000, 'poll interval (seconds)', {
        min: 0.05,
        max: 86_400,
        integer: false,
      }) * 1000,
    rolloutIntervalMs:
      number(
        text.rolloutInterval,
        DEFAULTS.rolloutIntervalMs / 1000,
        'rollout interval (seconds)',
        { min: 0.05, max: 86_400, integer: false },
      ) * 1000,
    host: text.host ?? DEFAULTS.host,
    port,
    grpc: {
      port:
        text.grpcPort === undefined && port === 0
          ? undefined
          : number(text.grpcPort, DEFAULTS.grpc.port ?? 0, 'gRPC port (0 = off)', {
              min: 0,
              max: 65_535,
              integer: true,
            }),
      maxMessageBytes: number(
        text.grpcMaxMessageBytes,
        DEFAULTS.grpc.maxMessageBytes,
        'gRPC max message bytes',
        { min: 1024, max: 1024 ** 3, integer: true },
      ),
      tlsCert,
      tlsKey,
    },
    workers,
    engine,
    onnxThreads: number(
      text.onnxThreads,
      Math.max(1, Math.floor(cores / workers)),
      'ONNX threads per worker',
      { min: 1, max: 256, integer: true },
    ),
    onnxPlacement,
    onnxSpinning: onnxSpinning === 'on',
    batching: {
      maxBatchSize: number(text.maxBatchSize, DEFAULTS.batching.maxBatchSize, 'max batch size', {
        min: 1,
        max: 4096,
        integer: true,
      }),
      maxQueueDelayMs: number(
        text.maxQueueDelayMs,
        DEFAULTS.batching.maxQueueDelayMs,
        'max queue delay (ms)',
        { min: 0, max: 10_000, integer: false },
      ),
    },
    limits: {
      maxBodyBytes: number(text.maxBodyBytes, DEFAULTS.limits.maxBodyBytes, 'max body bytes', {
        min: 1024,
        max: 1024 ** 3,
        integer: true,
      }),
      maxElements: number(text.maxElements, DEFAULTS.limits.maxElements, 'max elements', {
        min: 1,
        max: 1e9,
        integer: true,
      }),
      maxConnections: number(
        text.maxConnections,
        DEFAULTS.limits.maxConnections,
        'max connections',
        { min: 1, max: 1_000_000, integer: true },
      ),
      requestTimeoutMs:
        number(
          text.requestTimeout,
          DEFAULTS.limits.requestTimeoutMs / 1000,
          'request timeout (seconds)',
          { min: 1, max: 3600, integer: false },
        ) * 1000,
    },
    drainTimeoutMs:
      number(text.drainTimeout, DEFAULTS.drainTimeoutMs / 1000, 'drain timeout (seconds)', {
        min: 0,
        max: 3600,
        integer: false,
      }) * 1000,
    logLevel,
    backend,
    adminToken,
    predictionLog: {
      maxEntries: number(
        text.predictionLogEntries,
        DEFAULTS.predictionLog.maxEntries,
        'prediction log entries',
        { min: 0, max: 10_000_000, integer: true },
      ),
      maxBytes: number(
        text.predictionLogBytes,
        DEFAULTS.predictionLog.maxBytes,
        'prediction log bytes',
        { min: 1024 * 1024, max: Number.MAX_SAFE_INTEGER, integer: true },
      ),
    },
    feedback,
    images: {
      formats:
        text.imageFormats === undefined
          ? [...DEFAULT_IMAGE_FORMATS]
          : parseImageFormats(text.imageFormats),
      maxPixels: number(text.maxImagePixels, DEFAULTS.images.maxPixels, 'max image pixels', {
        min: 0,
        max: 1e9,
        integer: true,
      }),
      maxPerRequest: number(
        text.maxImagesPerRequest,
        DEFAULTS.images.maxPerRequest,
        'max images per request',
        { min: 1, max: 1024, integer: true },
      ),
      decodeConcurrency: number(
        text.decodeConcurrency,
        DEFAULTS.images.decodeConcurrency,
        'decode concurrency',
        { min: 1, max: 256, integer: true },
      ),
    },
    brokers: resolveBrokers(text),
  };
}

const AMQP_QUEUE = /^[\w.:{}-]{1,200}$/;

function amqpQueueName(text: string | undefined, fallback: string, what: string): string {
  const value = text ?? fallback;
  if (!AMQP_QUEUE.test(value))
    throw new MscrError(
      'config',
      `${what} may use letters, digits, . _ : - and {model} (at most 200 characters), got ${JSON.stringify(value)}`,
    );
  return value;
}

function resolveBrokers(text: ConfigText): ServiceConfig['brokers'] {
  const mqttDefaults = DEFAULTS.brokers.mqtt;
  const clientId = text.mqttClientId ?? mqttDefaults.clientId;
  if (!/^[\w.:-]{1,64}$/.test(clientId))
    throw new MscrError(
      'config',
      `MQTT client id may use letters, digits, . _ : - (1 to 64 characters), got ${JSON.stringify(clientId)}`,
    );
  const commonQueue =
    text.amqpCommonQueue === 'off' ? '' : (text.amqpCommonQueue ?? DEFAULT_AMQP.commonQueue);
  if (commonQueue !== '') amqpQueueName(commonQueue, '', 'AMQP common queue');
  const retrainQueue =
    text.amqpRetrainQueue === 'off'
      ? ''
      : checkTemplate(
          amqpQueueName(text.amqpRetrainQueue, DEFAULT_AMQP.retrainQueue, 'AMQP retrain queue'),
          'AMQP retrain queue',
          false,
        );
  const retrainTopic =
    text.mqttRetrainTopic === 'off'
      ? ''
      : checkTemplate(
          text.mqttRetrainTopic ?? mqttDefaults.retrainTopic,
          'MQTT retrain topic',
          true,
        );
  return {
    runPollMs:
      number(
        text.retrainEventsInterval,
        DEFAULT_RUN_POLL_MS / 1000,
        'retraining events interval (seconds)',
        { min: 0.05, max: 3600, integer: false },
      ) * 1000,
    amqp: {
      url: checkBrokerUrl(text.amqpUrl ?? '', ['amqp:', 'amqps:'], 'AMQP URL'),
      prefetch: number(text.amqpPrefetch, DEFAULT_AMQP.prefetch, 'AMQP prefetch', {
        min: 1,
        max: 65_535,
        integer: true,
      }),
      queue: checkTemplate(
        amqpQueueName(text.amqpQueue, DEFAULT_AMQP.queue, 'AMQP queue'),
        'AMQP queue',
        false,
      ),
      deadQueue: checkTemplate(
        amqpQueueName(text.amqpDeadQueue, DEFAULT_AMQP.deadQueue, 'AMQP dead-letter queue'),
        'AMQP dead-letter queue',
        false,
      ),
      commonQueue,
      retrainQueue,
      // The common retrain queue goes with the common queue and the per-model retrain queue.
      commonRetrainQueue:
        commonQueue !== '' && retrainQueue !== '' ? DEFAULT_AMQP.commonRetrainQueue : '',
      deliveryLimit: number(
        text.amqpDeliveryLimit,
        DEFAULT_AMQP.deliveryLimit,
        'AMQP delivery limit',
        {
          min: 1,
          max: 1000,
          integer: true,
        },
      ),
    },
    mqtt: {
      url: checkBrokerUrl(text.mqttUrl ?? '', ['mqtt:', 'mqtts:', 'ws:', 'wss:'], 'MQTT URL'),
      clientId,
      topic: checkTemplate(text.mqttTopic ?? mqttDefaults.topic, 'MQTT topic', true),
      resultTopic: checkTemplate(
        text.mqttResultTopic ?? mqttDefaults.resultTopic,
        'MQTT result topic',
        true,
      ),
      inflight: number(text.mqttInflight, mqttDefaults.inflight, 'MQTT in-flight messages', {
        min: 1,
        max: 65_535,
        integer: true,
      }),
      retrainTopic,
    },
  };
}
