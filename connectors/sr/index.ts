/**
 * SR connector (Service <-> Retraining): what the Service tells the Retraining layer about a
 * model in production, and what the Retraining layer records about its runs.
 *
 * - Read side: `ModelSignals`, served at `GET /mscr/models/{m}/signals`: prediction volume,
 *   the predicted-class distribution and top-class confidence since the window began, and the
 *   labelled feedback received. Observers compare these with the manifest's training
 *   reference (`PredictionReference`).
 * - Feedback: `FeedbackRecord`, stored durably in the model store beside the models
 *   (`<model>/feedback/<day>/<id>.json`, the input itself next to it), so a retraining job
 *   anywhere can read it.
 * - Write side: `RetrainRun`, one record per retraining run (`<model>/retraining/runs/...`),
 *   shown by `mscr retrain history` and `GET /mscr/models/{m}/runs`.
 */
import type { PredictionReference } from '../ms/manifest.ts';
import type { ProgressEntry, RunPlan, TrialRecord } from './train.ts';

/** Bins of the top-class confidence histogram: [0, 0.1), [0.1, 0.2), ... [0.9, 1.0]. */
export const CONFIDENCE_BINS = 10;

/** `GET /mscr/models/{m}/signals`: what a model saw since `since`. */
export interface ModelSignals {
  model: string;
  /** The newest version serving now, if any. */
  version?: number;
  /**
   * Start of the window (the service's start, or the last reset). ISO 8601. The Service
   * restarts the window when the serving version changes, so the signals describe `version`.
   */
  since: string;
  /** Predictions answered in the window (rows, not requests: a batch of 8 counts 8). */
  predictions: number;
  /** Classifiers: predictions per class label. */
  predictedClasses?: Record<string, number>;
  /** Classifiers: top-class confidence, `CONFIDENCE_BINS` counts. */
  confidenceHistogram?: number[];
  /**
   * Forecasters and regressors: mean and standard deviation of the predictions, in the data's
   * units (as the reference's `predictionMean` and `predictionStd`).
   */
  predictionMean?: number;
  predictionStd?: number;
  /** Labelled feedback received in the window. */
  feedback: {
    count: number;
    /** Feedback about a prediction the service remembers, so correctness is known. */
    judged: number;
    correct: number;
    /** Classifiers: correct / judged, when judged > 0. */
    accuracy?: number;
    /**
     * Forecasters and regressors: how many of `judged` are values (an error, not right or
     * wrong). Accuracy is about the others only.
     */
    judgedValues?: number;
    /** Forecasters: mean absolute error of the judged predictions, in the data's units. */
    meanAbsoluteError?: number;
    /** Forecasters: root mean squared error of the judged predictions, in the data's units. */
    rootMeanSquaredError?: number;
    /** Forecasters: mean absolute percentage error (0.05 = 5 %), over actual values other than 0. */
    meanAbsolutePercentageError?: number;
    /**
     * Forecasters: the naive forecast's mean absolute error on the same days (tomorrow =
     * the window's last value), over the judged predictions whose window is known; the
     * yardstick a forecaster has to beat. `naiveJudged` says over how many.
     */
    naiveMeanAbsoluteError?: number;
    naiveJudged?: number;
  };
  /** The serving version's training reference, to compare with. */
  reference?: PredictionReference;
}

/** What a client sends: `POST /mscr/models/{m}/feedback`. */
export interface FeedbackRequest {
  /** The id a classify, forecast or V2 infer response gave the prediction. */
  predictionId?: string;
  /**
   * Or the input itself (when the prediction id is unknown or forgotten): an image as base64,
   * or a tensor in the model's input shape without the batch dimension.
   */
  input?: { image_b64: string } | { data: number[]; shape: number[] };
  /** Classifiers: the true class, by label or index. */
  label?: string | number;
  /** Forecasters: the true value, in the data's units. */
  actual?: number;
  /**
   * Detectors: the true boxes of the image (all of them: an empty list says "no objects"),
   * in the posted image's pixels, each with its class by label name.
   */
  boxes?: LabelledBox[];
}

/** A box someone drew or corrected: `[x, y, width, height]` in the image's pixels. */
export interface LabelledBox {
  box: [number, number, number, number];
  label: string;
}

/** The answer to a feedback post (201). */
export interface FeedbackResponse {
  id: string;
  model: string;
  /** The version that made the prediction, when known. */
  version?: number;
  label?: string;
  actual?: number;
  /** Whether that prediction was right (classifiers, when the prediction is known). */
  correct?: boolean;
  /**
   * True when the feedback is below the service's trust threshold: it is kept under
   * `<model>/feedback/quarantine/` and retraining does not use it until someone accepts it
   * (`mscr feedback review`).
   */
  quarantined?: boolean;
}

/**
 * How far a piece of feedback can be trusted: `token` (the caller presented the feedback
 * token), `prediction` (it is about a prediction this service made and remembers, so the
 * input is the service's own record, not the caller's), `anonymous` (the caller sent the
 * input). Ordered from most to least trusted.
 */
export type FeedbackTrust = 'token' | 'prediction' | 'anonymous';

export const FEEDBACK_TRUST_ORDER: readonly FeedbackTrust[] = ['token', 'prediction', 'anonymous'];

/** One piece of feedback as stored in the model store. */
export interface FeedbackRecord {
  id: string;
  model: string;
  receivedAt: string;
  version?: number;
  predictionId?: string;
  /** Classifiers: true label name and index. */
  label?: string;
  labelIndex?: number;
  /** Forecasters: the true value. */
  actual?: number;
  /** Detectors: the true boxes in the stored input's pixels (see `FeedbackRequest.boxes`). */
  boxes?: LabelledBox[];
  /** What the model predicted, when known. */
  predicted?: string | number;
  correct?: boolean;
  /** The stored input beside this record (`<id>.png` or `<id>.json`), when there is one. */
  inputFile?: string;
  /** sha256 of that input. */
  inputSha256?: string;
  /** How far the record can be trusted (absent in records written before trust existed). */
  trust?: FeedbackTrust;
  /** Who accepted it out of quarantine, and when (`mscr feedback review`). */
  reviewed?: { at: string; by?: string };
}

/** `POST /mscr/models/{m}/retrain` (with `Authorization: Bearer <token>`). */
export interface RetrainRequest {
  /** Why, for the record. */
  reason?: string;
}

/** The answer: 202 when a run started, 409 when one is already running for the model. */
export interface RetrainResponse {
  model: string;
  runId: string;
  state: 'started';
}

export type RetrainOutcome = 'running' | 'published' | 'rejected' | 'failed';

export type TriggerKind = 'cron' | 'threshold' | 'request' | 'manual' | 'kubernetes';

/** One retraining run, as recorded in the store. */
export interface RetrainRun {
  id: string;
  model: string;
  trigger: { kind: TriggerKind; reason?: string };
  startedAt: string;
  finishedAt?: string;
  outcome: RetrainOutcome;
  /** Why the gate decided as it did, or what failed. */
  message?: string;
  /** Data used: the sources, a fingerprint over all of it, and how many feedback records. */
  inputs?: { sources: string[]; fingerprint?: string; feedbackRecords: number };
  parameters?: Record<string, unknown>;
  /** The serving version and the candidate, measured on the same held-out data. */
  baseline?: { version: number; metrics: Record<string, number> };
  candidate?: { metrics: Record<string, number>; trial?: number };
  /** Several candidates (`--candidates N --search ...`): each one's record; the best was gated. */
  trials?: TrialRecord[];
  /** What the job reported while it ran (bounded: `MAX_PROGRESS`), for `GET /mscr/train/{id}`. */
  progress?: ProgressEntry[];
  /** How many progress entries were dropped to keep the record small. */
  progressDropped?: number;
  /** The version published, if the gate passed. */
  published?: { version: number; alias?: string };
  /** The rollout the run ended in (instead of moving an alias), if it started. */
  rollout?: { mode: string; weight: number; stable: number; candidate: number };
  timings?: Record<string, number>;
}

/** A stored input of a feedback record: the posted image file, or a tensor. */
export type FeedbackInput =
  | { kind: 'image'; bytes: Uint8Array; extension: 'jpg' | 'png' | 'gif' | 'webp' }
  | { kind: 'tensor'; shape: number[]; data: number[] }
  | { kind: 'csv'; text: string };

/**
 * Where feedback lives: in the model store, beside the models, so that every replica writes
 * to one place and a retraining job anywhere reads it.
 *
 *     <model>/feedback/<YYYY-MM-DD>/<id>.json     the record
 *     <model>/feedback/<YYYY-MM-DD>/<id>.<ext>    its input (png, jpg, gif, webp, csv, or
 *                                                 tensor.json: not json, the record's name)
 */
export interface FeedbackStore {
  /**
   * Stores the input first, then the record (a record never points at a missing input).
   * `quarantine`: under `<model>/feedback/quarantine/` instead, where `list` (and so
   * retraining) does not see it until it is accepted.
   */
  append(
    record: FeedbackRecord,
    input?: FeedbackInput,
    options?: { quarantine?: boolean },
  ): Promise<void>;
  /**
   * Records of a model, oldest first; `since` (ISO date-time) skips older ones;
   * `quarantined`: the quarantined ones instead of the accepted ones.
   */
  list(
    model: string,
    options?: { since?: string; quarantined?: boolean },
  ): Promise<FeedbackRecord[]>;
  /** The stored input of a record (accepted or quarantined), or undefined when it has none. */
  readInput(
    record: FeedbackRecord,
    options?: { quarantined?: boolean },
  ): Promise<FeedbackInput | undefined>;
  /** Moves a quarantined record (and its input) into the accepted feedback, marked reviewed. */
  accept(record: FeedbackRecord, reviewer?: string): Promise<void>;
  /** Deletes a quarantined record and its input. */
  reject(record: FeedbackRecord): Promise<void>;
}

/**
 * How the Service starts a retraining run when asked over HTTP: given by the composition
 * root (a child process of `mscr retrain` on one machine, a Job from the CronJob in a
 * cluster), so the Service knows nothing of how training happens.
 */
export interface RetrainLauncher {
  /** Starts a run; rejects with `MscrError('conflict')` when one is running for the model. */
  start(model: string, trigger: RetrainRun['trigger'], plan?: RunPlan): Promise<{ runId: string }>;
  /** The model's runs, newest first. */
  runs(model: string, options?: { limit?: number }): Promise<RetrainRun[]>;
  /** One run's record, or undefined when it has none (yet); absent: found in `runs`. */
  run?(model: string, runId: string): Promise<RetrainRun | undefined>;
}
