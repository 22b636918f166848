/**
 * Per-model signal accumulators: what `GET /mscr/models/{m}/signals` answers and the
 * retraining observers read (SR connector, `ModelSignals`).
 *
 * One window per model, about its serving version: it starts with the service and starts
 * again when the serving version changes, so a new version is judged on its own predictions
 * and feedback (the observer that caused a retraining does not fire again on the old
 * version's numbers). Predictions of other versions (asked for explicitly, or in flight
 * across a switch) stay out of the window; they are still in the Prometheus metrics.
 * Feedback counts in the window when it arrives; it is judged (correct or not) only when it
 * is about a prediction of the window's version.
 */
import { CONFIDENCE_BINS, type ModelSignals } from '../../connectors/sr/index.ts';
import type { ModelManifest } from '../../connectors/ms/manifest.ts';
import type { Predicted } from './predictions.ts';

interface Window {
  version: number | undefined;
  since: string;
  predictions: number;
  /** Classifiers: counts by label, in label order. */
  classes: Map<string, number> | undefined;
  histogram: number[] | undefined;
  /** Forecasts: running mean and sum of squared deviations (Welford). */
  values: { n: number; mean: number; m2: number };
  feedback: FeedbackSums;
}

interface FeedbackSums {
  count: number;
  judged: number;
  correct: number;
  /** Judged values (forecasters): their absolute, squared and relative errors summed. */
  errors: number;
  errorSum: number;
  squaredErrorSum: number;
  percentageErrors: number;
  percentageErrorSum: number;
  /** The naive forecast's absolute errors on the judged values whose window is known. */
  naive: number;
  naiveErrorSum: number;
}

/** What one piece of feedback says about the model. */
export interface FeedbackOutcome {
  /** The version that made the prediction, when it is known. */
  version?: number;
  correct?: boolean;
  /** Forecasters: the true value and what the model predicted, when the prediction is known. */
  actual?: number;
  predicted?: number;
  /** Forecasters: the naive forecast of the same day (the window's last value), when known. */
  naive?: number;
}

export function confidenceBin(confidence: number): number {
  return Math.min(CONFIDENCE_BINS - 1, Math.max(0, Math.floor(confidence * CONFIDENCE_BINS)));
}

export class Signals {
  readonly #now: () => Date;
  readonly #started: string;
  readonly #windows = new Map<string, Window>();

  constructor(now: () => Date = () => new Date()) {
    this.#now = now;
    this.#started = now().toISOString();
  }

  /** The serving version of a model changed (or a model appeared): a new window. */
  restart(model: string, version: number | undefined): void {
    this.#windows.set(model, this.#fresh(version, this.#now().toISOString()));
  }

  /** Counts the predictions of one inference (`version` is the version that answered). */
  observe(model: string, version: number, labels: readonly string[], predicted: Predicted[]) {
    const window = this.#window(model, version);
    if (window.version !== version) return;
    window.predictions += predicted.length;
    for (const p of predicted) {
      if (p.kind === 'class') {
        window.classes ??= new Map(labels.map((label) => [label, 0]));
        window.histogram ??= new Array<number>(CONFIDENCE_BINS).fill(0);
        window.classes.set(p.label, (window.classes.get(p.label) ?? 0) + 1);
        const bin = confidenceBin(p.confidence);
        window.histogram[bin] = (window.histogram[bin] as number) + 1;
      } else if (p.kind === 'value') {
        const values = window.values;
        values.n += 1;
        const delta = p.value - values.mean;
        values.mean += delta / values.n;
        values.m2 += delta * (p.value - values.mean);
      }
    }
  }

  /** Counts a piece of feedback that was stored. */
  feedback(model: string, outcome: FeedbackOutcome): void {
    const window = this.#window(model, outcome.version);
    const feedback = window.feedback;
    feedback.count += 1;
    if (outcome.version === undefined || outcome.version !== window.version) return;
    if (outcome.correct !== undefined) {
      feedback.judged += 1;
      if (outcome.correct) feedback.correct += 1;
    } else if (outcome.actual !== undefined && outcome.predicted !== undefined) {
      const { actual, predicted, naive } = outcome;
      const error = Math.abs(actual - predicted);
      feedback.judged += 1;
      feedback.errors += 1;
      feedback.errorSum += error;
      feedback.squaredErrorSum += error * error;
      if (actual !== 0) {
        feedback.percentageErrors += 1;
        feedback.percentageErrorSum += error / Math.abs(actual);
      }
      if (naive !== undefined) {
        feedback.naive += 1;
        feedback.naiveErrorSum += Math.abs(actual - naive);
      }
    }
  }

  /** The version the model's window is about, if any. */
  versionOf(model: string): number | undefined {
    return this.#windows.get(model)?.version;
  }

  /**
   * The model's signals. `manifest` is the window version's: its training reference goes
   * along, and a classifier's class counts and histogram are there (zeros) before its first
   * prediction.
   */
  snapshot(model: string, manifest?: ModelManifest): ModelSignals {
    const window = this.#windows.get(model) ?? this.#fresh(undefined, this.#started);
    const { feedback, values } = window;
    const labels = manifest?.labels ?? [];
    const classes =
      window.classes ?? (labels.length > 0 ? new Map(labels.map((l) => [l, 0])) : undefined);
    const histogram =
      window.histogram ??
      (labels.length > 0 ? new Array<number>(CONFIDENCE_BINS).fill(0) : undefined);
    const reference = manifest?.reference;
    const classifierJudged = feedback.judged - feedback.errors;
    return {
      model,
      ...(window.version !== undefined ? { version: window.version } : {}),
      since: window.since,
      predictions: window.predictions,
      ...(classes ? { predictedClasses: Object.fromEntries(classes) } : {}),
      ...(histogram ? { confidenceHistogram: [...histogram] } : {}),
      ...(values.n > 0
        ? { predictionMean: values.mean, predictionStd: Math.sqrt(values.m2 / values.n) }
        : {}),
      feedback: {
        count: feedback.count,
        judged: feedback.judged,
        correct: feedback.correct,
        ...(classifierJudged > 0 ? { accuracy: feedback.correct / classifierJudged } : {}),
        ...(feedback.errors > 0 ? valueErrors(feedback) : {}),
      },
      ...(reference !== undefined ? { reference } : {}),
    };
  }

  #window(model: string, version: number | undefined): Window {
    let window = this.#windows.get(model);
    if (window === undefined) {
      // No serving event seen yet: the first version heard of opens the window.
      window = this.#fresh(version, this.#started);
      this.#windows.set(model, window);
    }
    return window;
  }

  #fresh(version: number | undefined, since: string): Window {
    return {
      version,
      since,
      predictions: 0,
      classes: undefined,
      histogram: undefined,
      values: { n: 0, mean: 0, m2: 0 },
      feedback: {
        count: 0,
        judged: 0,
        correct: 0,
        errors: 0,
        errorSum: 0,
        squaredErrorSum: 0,
        percentageErrors: 0,
        percentageErrorSum: 0,
        naive: 0,
        naiveErrorSum: 0,
      },
    };
  }
}

/** A forecaster's error figures from the sums (`errors` > 0). */
function valueErrors(sums: FeedbackSums): Partial<ModelSignals['feedback']> {
  return {
    judgedValues: sums.errors,
    meanAbsoluteError: sums.errorSum / sums.errors,
    rootMeanSquaredError: Math.sqrt(sums.squaredErrorSum / sums.errors),
    ...(sums.percentageErrors > 0
      ? { meanAbsolutePercentageError: sums.percentageErrorSum / sums.percentageErrors }
      : {}),
    ...(sums.naive > 0
      ? { naiveMeanAbsoluteError: sums.naiveErrorSum / sums.naive, naiveJudged: sums.naive }
      : {}),
  };
}
