/**
 * Prometheus metrics on `/metrics` (prom-client). One registry per service instance, so
 * tests can run several services in one process. Names follow Prometheus conventions
 * (`_total` counters, `_seconds` durations); labels stay low-cardinality: model, version,
 * protocol, status code, predicted class.
 */
import client from 'prom-client';
import type { RetrainRun } from '../../connectors/sr/index.ts';
import type { Predicted } from '../monitoring/predictions.ts';

/**
 * `sr`: feedback, signals and retraining (`/mscr/models/{m}/feedback` and the like);
 * `grpc`: every gRPC service on the gRPC port (the status label is then the gRPC code name).
 */
export type Protocol = 'v1' | 'v2' | 'image' | 'csv' | 'tabular' | 'sr' | 'grpc' | 'other';

export interface ServiceMetrics {
  registry: client.Registry;
  requests: client.Counter<'model' | 'version' | 'protocol' | 'status'>;
  requestDuration: client.Histogram<'model' | 'version' | 'protocol' | 'status'>;
  inFlight: client.Gauge<'protocol'>;
  queueTime: client.Histogram<'model' | 'version'>;
  batchSize: client.Histogram<'model' | 'version'>;
  versionState: client.Gauge<'model' | 'version' | 'state'>;
  loadEvents: client.Counter<'model' | 'event'>;
  loadDuration: client.Histogram<'model'>;
  predictedClass: client.Counter<'model' | 'version' | 'class'>;
  confidence: client.Histogram<'model' | 'version'>;
  forecast: client.Histogram<'model' | 'version'>;
  /** Detectors: boxes per image answered on `/detect`. */
  detections: client.Histogram<'model' | 'version'>;
}

export const VERSION_STATES = ['LOADING', 'AVAILABLE', 'UNLOADING', 'END', 'FAILED'] as const;

export function createMetrics(options: { processMetrics?: boolean } = {}): ServiceMetrics {
  const registry = new client.Registry();
  if (options.processMetrics !== false)
    client.collectDefaultMetrics({ register: registry, prefix: 'mscr_' });
  const registers = [registry];
  const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
  return {
    registry,
    requests: new client.Counter({
      name: 'mscr_requests_total',
      help: 'Inference and metadata requests by model, version, protocol and HTTP status',
      labelNames: ['model', 'version', 'protocol', 'status'],
      registers,
    }),
    requestDuration: new client.Histogram({
      name: 'mscr_request_duration_seconds',
      help: 'Request latency from the first byte read to the last byte written',
      labelNames: ['model', 'version', 'protocol', 'status'],
      buckets: latencyBuckets,
      registers,
    }),
    inFlight: new client.Gauge({
      name: 'mscr_requests_in_flight',
      help: 'Requests being handled now (the HPA custom metric)',
      labelNames: ['protocol'],
      registers,
    }),
    queueTime: new client.Histogram({
      name: 'mscr_inference_queue_seconds',
      help: 'Time a request waited in the batching queue',
      labelNames: ['model', 'version'],
      buckets: [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    }),
    batchSize: new client.Histogram({
      name: 'mscr_inference_batch_size',
      help: 'Rows per batch sent to the model',
      labelNames: ['model', 'version'],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers,
    }),
    versionState: new client.Gauge({
      name: 'mscr_model_version_state',
      help: 'Model version lifecycle state: 1 for the current state of each version',
      labelNames: ['model', 'version', 'state'],
      registers,
    }),
    loadEvents: new client.Counter({
      name: 'mscr_model_events_total',
      help: 'Model version load, unload and load-failure events',
      labelNames: ['model', 'event'],
      registers,
    }),
    loadDuration: new client.Histogram({
      name: 'mscr_model_load_seconds',
      help: 'Time to download, verify, load and warm up a model version',
      labelNames: ['model'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    predictedClass: new client.Counter({
      name: 'mscr_predicted_class_total',
      help: 'Top-1 predicted classes of classifiers (the retraining observers compare them with the training reference)',
      labelNames: ['model', 'version', 'class'],
      registers,
    }),
    confidence: new client.Histogram({
      name: 'mscr_prediction_confidence',
      help: 'Top-1 confidence of classifier predictions',
      labelNames: ['model', 'version'],
      buckets: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1],
      registers,
    }),
    detections: new client.Histogram({
      name: 'mscr_detections_per_image',
      help: 'Boxes a detector answered per image on /detect, after thresholds and non-maximum suppression',
      labelNames: ['model', 'version'],
      buckets: [0, 1, 2, 3, 5, 10, 20, 50, 100],
      registers,
    }),
    forecast: new client.Histogram({
      name: 'mscr_forecast_value',
      help: 'Forecasts of series models in original units (coarse buckets; for drift, not accounting)',
      labelNames: ['model', 'version'],
      buckets: [0, 1, 10, 100, 1_000, 10_000, 100_000],
      registers,
    }),
  };
}

/** Sets the one-hot state gauge of a version. */
export function recordVersionState(
  metrics: ServiceMetrics,
  model: string,
  version: number,
  state: string,
): void {
  for (const s of VERSION_STATES) {
    metrics.versionState.set({ model, version: String(version), state: s }, s === state ? 1 : 0);
  }
}

/**
 * Counts what one inference predicted: a classifier's top-1 class and its confidence, a
 * forecaster's values (in the data's units).
 */
export function recordPredictions(
  metrics: ServiceMetrics,
  model: string,
  version: number,
  predicted: readonly Predicted[],
): void {
  const labels = { model, version: String(version) };
  for (const p of predicted) {
    // A model can answer NaN or an infinity (an input of 3.4e38 overflows); a histogram
    // refuses those, and a metric must never turn an answer into a 500.
    if (p.kind === 'class') {
      metrics.predictedClass.inc({ ...labels, class: p.label });
      if (Number.isFinite(p.confidence)) metrics.confidence.observe(labels, p.confidence);
    } else if (p.kind === 'value' && Number.isFinite(p.value)) {
      metrics.forecast.observe(labels, p.value);
    }
  }
}

/**
 * Caps the distinct values of one label: the first `max` values seen are kept, every later
 * one becomes `overflow`. Label values that come from requests must never grow the series
 * without bound (each series costs memory here and in Prometheus).
 */
export class LabelCap {
  readonly #seen = new Set<string>();
  readonly #max: number;
  readonly #overflow: string;

  constructor(max: number, overflow = 'other') {
    this.#max = max;
    this.#overflow = overflow;
  }

  of(value: string): string {
    if (this.#seen.has(value)) return value;
    if (this.#seen.size >= this.#max) return this.#overflow;
    this.#seen.add(value);
    return value;
  }
}

/**
 * Retraining metrics, read from the run records at scrape time (the records are the truth,
 * wherever the runs happened: a child process, a Kubernetes Job, a cron on another machine).
 * Registered only when the service has a retraining launcher.
 */
export function registerRetrainMetrics(
  registry: client.Registry,
  models: () => readonly string[],
  runs: (model: string) => Promise<RetrainRun[]>,
): void {
  const registers = [registry];
  // One read per scrape feeds all three gauges.
  let latest: Promise<Map<string, RetrainRun[]>> | undefined;
  const read = (): Promise<Map<string, RetrainRun[]>> =>
    (latest ??= (async () => {
      const byModel = new Map<string, RetrainRun[]>();
      for (const model of models()) byModel.set(model, await runs(model).catch(() => []));
      setTimeout(() => (latest = undefined), 1000).unref();
      return byModel;
    })());
  new client.Gauge({
    name: 'mscr_retrain_runs',
    help: 'Retraining runs among the last 100 recorded, by outcome (running, published, rejected, failed)',
    labelNames: ['model', 'outcome'],
    registers,
    async collect() {
      this.reset();
      for (const [model, list] of await read()) {
        for (const outcome of ['running', 'published', 'rejected', 'failed'] as const)
          this.set({ model, outcome }, list.filter((run) => run.outcome === outcome).length);
      }
    },
  });
  new client.Gauge({
    name: 'mscr_retrain_last_success_timestamp_seconds',
    help: 'When the last retraining run that published a version finished (Unix time)',
    labelNames: ['model'],
    registers,
    async collect() {
      this.reset();
      for (const [model, list] of await read()) {
        const last = list.find((run) => run.outcome === 'published' && run.finishedAt);
        if (last?.finishedAt) this.set({ model }, Date.parse(last.finishedAt) / 1000);
      }
    },
  });
  new client.Gauge({
    name: 'mscr_retrain_last_duration_seconds',
    help: 'Duration of the last finished retraining run',
    labelNames: ['model', 'outcome'],
    registers,
    async collect() {
      this.reset();
      for (const [model, list] of await read()) {
        const last = list.find((run) => run.finishedAt !== undefined);
        if (last?.finishedAt)
          this.set(
            { model, outcome: last.outcome },
            (Date.parse(last.finishedAt) - Date.parse(last.startedAt)) / 1000,
          );
      }
    },
  });
}
