/**
 * The Service's side of the SR connector: it watches every answer (Prometheus metrics and
 * the signal window), remembers recent predictions by id (the prediction log), and turns
 * labelled feedback into durable records in the model store (`FeedbackStore`).
 */
import { randomUUID } from 'node:crypto';
import client from 'prom-client';
import { MscrError, errorMessage, isMscrError } from '../../connectors/errors.ts';
import type { ModelManifest } from '../../connectors/ms/manifest.ts';
import type {
  FeedbackInput,
  FeedbackRecord,
  FeedbackRequest,
  FeedbackResponse,
  FeedbackStore,
  FeedbackTrust,
  ModelSignals,
} from '../../connectors/sr/index.ts';
import type { Logger } from '../observability/log.ts';
import type { ImagePolicy } from '../protocols/index.ts';
import { recordPredictions, type ServiceMetrics } from '../observability/metrics.ts';
import { feedbackInputOf, imageExtensionOf, parseFeedbackRequest, truthOf } from './feedback.ts';
import { checkBoxesInImage } from './feedback-boxes.ts';
import {
  PredictionLog,
  toFeedbackInput,
  type LoggedInput,
  type LoggedPrediction,
  type PredictionLogOptions,
} from './prediction-log.ts';
import { naiveForecastOf, predictionsOf, type Prediction } from './predictions.ts';
import { Signals } from './signals.ts';

export type { LoggedInput } from './prediction-log.ts';

/** `LoggedPrediction.feedback` while its feedback is being stored. */
const PENDING = 'pending';

/** Tensor rows with more elements than this are logged without their input. */
const MAX_LOGGED_ROW_ELEMENTS = 16_384;
/** Requests with more tensor elements than this are logged without their inputs. */
const MAX_LOGGED_ELEMENTS = 1 << 20;

export interface MonitoringOptions {
  metrics: ServiceMetrics;
  logger: Logger;
  log: PredictionLogOptions;
  /** Where feedback is stored: the model store, beside the models. */
  feedbackStore: FeedbackStore;
  /**
   * Which feedback retraining may use without a review (see `FeedbackTrustThreshold` in the
   * service config); the rest is stored in quarantine. Default `prediction`.
   */
  feedbackTrust?: 'any' | 'prediction' | 'token' | 'review';
  now?: () => Date;
  /** Judged feedback about a version's prediction (rollouts count it per version). */
  onJudged?: (model: string, version: number, correct: boolean) => void;
}

/** Whether feedback of trust `trust` is used without a review under `threshold`. */
export function trusted(
  trust: FeedbackTrust,
  threshold: NonNullable<MonitoringOptions['feedbackTrust']>,
): boolean {
  switch (threshold) {
    case 'any':
      return true;
    case 'prediction':
      return trust !== 'anonymous';
    case 'token':
      return trust === 'token';
    case 'review':
      return false;
  }
}

/** The version a feedback post is about: its manifest, and the version when known. */
export type ManifestLookup = (model: string) => { version: number; manifest: ModelManifest };

export class Monitoring {
  readonly log: PredictionLog;
  readonly signals: Signals;
  readonly #options: MonitoringOptions;
  readonly #now: () => Date;
  readonly #feedbackTotal: client.Counter<'model' | 'outcome'>;

  constructor(options: MonitoringOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
    this.log = new PredictionLog(options.log);
    this.signals = new Signals(this.#now);
    const registers = [options.metrics.registry];
    const log = this.log;
    this.#feedbackTotal = new client.Counter({
      name: 'mscr_feedback_total',
      help: 'Labelled feedback stored, by model and outcome: correct, incorrect (the prediction was known and judged), unjudged, or quarantined (below the trust threshold: kept for review, not counted in signals)',
      labelNames: ['model', 'outcome'],
      registers,
    });
    new client.Gauge({
      name: 'mscr_prediction_log_entries',
      help: 'Predictions this replica remembers by id for feedback',
      registers,
      collect() {
        this.set(log.size);
      },
    });
    new client.Gauge({
      name: 'mscr_prediction_log_bytes',
      help: 'Memory the prediction log accounts for (inputs plus a per-entry overhead)',
      registers,
      collect() {
        this.set(log.bytes);
      },
    });
  }

  /** Every successful inference, from the data plane: metrics and the signal window. */
  observe(result: Prediction): void {
    const predicted = predictionsOf(result);
    if (predicted === undefined) return;
    recordPredictions(this.#options.metrics, result.model, result.version, predicted);
    this.signals.observe(result.model, result.version, result.manifest.labels ?? [], predicted);
  }

  /** The serving version of a model changed. */
  servingChanged(model: string, version: number | undefined): void {
    this.signals.restart(model, version);
  }

  /**
   * Remembers each row of an answer and returns one prediction id per row. `inputOf(row)`
   * gives the row's input, or undefined when it is not worth keeping.
   */
  remember(result: Prediction, inputOf: (row: number) => LoggedInput | undefined): string[] {
    const predicted = predictionsOf(result);
    const rows = result.shape[0] ?? 0;
    const at = this.#now().getTime();
    const ids: string[] = [];
    for (let row = 0; row < rows; row++) {
      const p = predicted?.[row];
      if (p === undefined) {
        ids.push(randomUUID());
        continue;
      }
      const input = inputOf(row);
      ids.push(
        this.log.add({
          model: result.model,
          version: result.version,
          manifest: result.manifest,
          at,
          predicted: p,
          ...(input !== undefined ? { input } : {}),
        }),
      );
    }
    return ids;
  }

  /**
   * Remembers a detector's answer about one posted image (the detect route decodes the
   * boxes after inference), counts it in the signal window and the metrics, and returns its
   * prediction id. `image` is the posted file, kept when small enough: feedback with
   * corrected boxes refers to that image's pixels, so no resized tensor stands in for it.
   */
  rememberDetections(result: Prediction, boxes: number, image: Uint8Array): string {
    const predicted = { kind: 'boxes' as const, count: boxes };
    const labels = { model: result.model, version: String(result.version) };
    this.#options.metrics.detections.observe(labels, boxes);
    this.signals.observe(result.model, result.version, [], [predicted]);
    const extension = imageExtensionOf(image);
    const input: LoggedInput | undefined =
      extension !== undefined && image.byteLength <= this.log.maxInputBytes
        ? { kind: 'image', bytes: Uint8Array.from(image), extension }
        : undefined;
    return this.log.add({
      model: result.model,
      version: result.version,
      manifest: result.manifest,
      at: this.#now().getTime(),
      predicted,
      ...(input !== undefined ? { input } : {}),
    });
  }

  /**
   * The input of a classify request: the image as posted when small and of a kept type, else
   * the decoded tensor (call it before inference, as `tensorRows`).
   */
  imageInput(bytes: Uint8Array, decoded: Float32Array, shape: number[]): LoggedInput | undefined {
    const extension = imageExtensionOf(bytes);
    if (extension !== undefined && bytes.byteLength <= this.log.maxInputBytes)
      return { kind: 'image', bytes: Uint8Array.from(bytes), extension };
    return tensorRows(decoded, shape)[0];
  }

  /**
   * `POST /mscr/models/{m}/feedback`: checks the post, stores the record (and the input)
   * through the feedback store, then counts it. `manifestOf` gives the serving version's
   * manifest (for feedback that sends its input).
   */
  async feedback(
    model: string,
    json: unknown,
    manifestOf: ManifestLookup,
    limits: { maxElements: number; images?: ImagePolicy },
    context: { authenticated?: boolean } = {},
  ): Promise<FeedbackResponse> {
    const request = parseFeedbackRequest(json);
    const logged =
      request.predictionId === undefined ? undefined : this.log.get(request.predictionId);
    if (logged !== undefined && logged.model !== model) {
      throw new MscrError(
        'bad_request',
        `prediction ${logged.id} was made by model ${logged.model}, not ${model}: post its feedback to /mscr/models/${logged.model}/feedback`,
      );
    }
    if (logged === undefined && request.input === undefined) {
      throw new MscrError(
        'not_found',
        `prediction ${String(request.predictionId)} is unknown here: this replica remembers only its last ${this.#options.log.maxEntries} predictions, and not across restarts; send the input itself ("input") with the label instead`,
      );
    }
    if (logged?.feedback !== undefined) {
      throw new MscrError(
        'conflict',
        logged.feedback === PENDING
          ? `feedback about prediction ${logged.id} is being stored now`
          : `feedback about prediction ${logged.id} was already recorded as ${logged.feedback}`,
      );
    }
    // Claimed before the first await, so two posts about one prediction never both count.
    if (logged !== undefined) logged.feedback = PENDING;
    // The input is the service's own record when it remembers the prediction's input (or
    // the caller sent none); otherwise it is the caller's word.
    const trust: FeedbackTrust = context.authenticated
      ? 'token'
      : logged !== undefined && (logged.input !== undefined || request.input === undefined)
        ? 'prediction'
        : 'anonymous';
    const quarantine = !trusted(trust, this.#options.feedbackTrust ?? 'prediction');
    try {
      const record = await this.#record(model, request, logged, manifestOf, limits, {
        trust,
        quarantine,
      });
      if (logged !== undefined) logged.feedback = record.id;
      if (quarantine) this.#feedbackTotal.inc({ model, outcome: 'quarantined' });
      else this.#count(record, logged);
      return {
        id: record.id,
        model,
        ...(record.version !== undefined ? { version: record.version } : {}),
        ...(record.label !== undefined ? { label: record.label } : {}),
        ...(record.actual !== undefined ? { actual: record.actual } : {}),
        ...(record.correct !== undefined ? { correct: record.correct } : {}),
        ...(quarantine ? { quarantined: true } : {}),
      };
    } catch (error) {
      if (logged !== undefined) delete logged.feedback;
      throw error;
    }
  }

  /** Checks the truth and the input against the model, then stores record and input. */
  async #record(
    model: string,
    request: FeedbackRequest,
    logged: LoggedPrediction | undefined,
    manifestOf: ManifestLookup,
    limits: { maxElements: number; images?: ImagePolicy },
    placement: { trust: FeedbackTrust; quarantine: boolean },
  ): Promise<FeedbackRecord> {
    const manifest = logged?.manifest ?? manifestOf(model).manifest;
    const truth = truthOf(request, manifest);
    let input: FeedbackInput | undefined;
    if (logged?.input !== undefined) input = toFeedbackInput(logged.input);
    else if (request.input !== undefined)
      input = await feedbackInputOf(request.input, manifest, limits.maxElements, limits.images);
    // Boxes are in the image's pixels: they need the image, and must lie inside it.
    if ('boxes' in truth) await checkBoxesInImage(truth.boxes, input, logged !== undefined);
    const record: FeedbackRecord = {
      id: randomUUID(),
      model,
      receivedAt: this.#now().toISOString(),
      ...(request.predictionId !== undefined ? { predictionId: request.predictionId } : {}),
      ...truth,
      trust: placement.trust,
    };
    if (logged !== undefined) {
      const p = logged.predicted;
      record.version = logged.version;
      record.predicted = p.kind === 'class' ? p.label : p.kind === 'boxes' ? p.count : p.value;
      if (p.kind === 'class' && 'labelIndex' in truth)
        record.correct = p.index === truth.labelIndex;
    }
    try {
      await this.#options.feedbackStore.append(record, input, {
        quarantine: placement.quarantine,
      });
    } catch (error) {
      this.#options.logger.error('feedback could not be stored', {
        model,
        feedback: record.id,
        error: errorMessage(error),
      });
      if (isMscrError(error, 'bad_request')) throw error;
      throw new MscrError(
        'unavailable',
        'the feedback was not recorded: the model store, where feedback is kept, did not take it; nothing was written, try again later',
        { cause: error },
      );
    }
    return record;
  }

  /** A stored piece of feedback, in the signal window and the metrics. */
  #count(record: FeedbackRecord, logged: LoggedPrediction | undefined): void {
    const predicted = logged?.predicted;
    const value =
      predicted?.kind === 'value' && record.actual !== undefined
        ? { actual: record.actual, predicted: predicted.value }
        : undefined;
    const naive = value && logged ? naiveForecastOf(logged.input, logged.manifest) : undefined;
    this.signals.feedback(record.model, {
      ...(record.version !== undefined ? { version: record.version } : {}),
      ...(record.correct !== undefined ? { correct: record.correct } : {}),
      ...value,
      ...(naive !== undefined ? { naive } : {}),
    });
    if (record.version !== undefined && record.correct !== undefined)
      this.#options.onJudged?.(record.model, record.version, record.correct);
    const outcome =
      record.correct === undefined ? 'unjudged' : record.correct ? 'correct' : 'incorrect';
    this.#feedbackTotal.inc({ model: record.model, outcome });
  }

  /**
   * `GET /mscr/models/{m}/signals`. `manifestOf(version)` gives the manifest of the version
   * the window is about (for its training reference), or undefined when it is not loaded.
   */
  signalsOf(
    model: string,
    manifestOf: (version: number) => ModelManifest | undefined,
  ): ModelSignals {
    const version = this.signals.versionOf(model);
    return this.signals.snapshot(model, version === undefined ? undefined : manifestOf(version));
  }
}

/**
 * Each row of a `[rows, ...]` input, copied, when rows are small enough to keep. Call it
 * before inference: the engine moves the input's buffer to a worker thread.
 */
export function tensorRows(data: Float32Array, shape: readonly number[]): LoggedInput[] {
  const rowShape = shape.slice(1);
  const size = rowShape.reduce((a, b) => a * b, 1);
  const rows = shape[0] ?? 0;
  if (size > MAX_LOGGED_ROW_ELEMENTS || rows * size > MAX_LOGGED_ELEMENTS) return [];
  if (rows * size > data.length) return [];
  return Array.from({ length: rows }, (_, row) => ({
    kind: 'tensor' as const,
    shape: rowShape,
    data: data.slice(row * size, (row + 1) * size),
  }));
}
