/**
 * Observers: pure functions from what the Service reports (`ModelSignals`, SR connector) and
 * the serving version's training reference to "retrain or not, and why". Thresholds and
 * windows are a policy object (configuration), not code.
 */
import type { PredictionReference } from '../../connectors/ms/manifest.ts';
import type { ModelSignals } from '../../connectors/sr/index.ts';

export interface ObserverPolicy {
  /** Fire when the population stability index of predicted classes exceeds this (0.2 is the usual "significant shift"). */
  maxClassPsi?: number;
  /** Fire when the PSI of top-class confidence exceeds this. */
  maxConfidencePsi?: number;
  /** Predictions needed before drift is judged. */
  minPredictions: number;
  /** Fire when accuracy on judged feedback falls below this. */
  minFeedbackAccuracy?: number;
  /** Judged feedback needed before accuracy (or a forecaster's error) is judged. */
  minFeedback: number;
  /** Forecasters: fire when the mean absolute error on feedback exceeds this (data units). */
  maxFeedbackMae?: number;
  /**
   * Forecasters: fire when the mean absolute error on feedback exceeds this multiple of the
   * naive forecast's on the same days (1 = "no better than tomorrow-is-today").
   */
  maxMaeVsNaive?: number;
  /** Fire when the serving version's training data is older than this many days. */
  maxDataAgeDays?: number;
}

export const DEFAULT_OBSERVER_POLICY: ObserverPolicy = {
  maxClassPsi: 0.2,
  minPredictions: 200,
  minFeedback: 20,
};

export interface Observation {
  fire: boolean;
  /** Every threshold crossed, in words. */
  reasons: string[];
  classPsi?: number;
  confidencePsi?: number;
  feedbackAccuracy?: number;
  /** Forecasters: mean absolute error on feedback, and its ratio to the naive forecast's. */
  feedbackMae?: number;
  maeVsNaive?: number;
  dataAgeDays?: number;
}

/** Population stability index of two distributions given as counts or proportions. */
export function populationStabilityIndex(
  expected: readonly number[],
  actual: readonly number[],
): number {
  const floor = 1e-4; // empty bins would make the logarithm infinite
  const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);
  const e = sum(expected);
  const a = sum(actual);
  if (e <= 0 || a <= 0 || expected.length !== actual.length) return 0;
  let psi = 0;
  for (let i = 0; i < expected.length; i++) {
    const p = Math.max((expected[i] ?? 0) / e, floor);
    const q = Math.max((actual[i] ?? 0) / a, floor);
    psi += (q - p) * Math.log(q / p);
  }
  return psi;
}

export interface ObserveContext {
  /** The serving version's class labels, in the order of `reference.classFrequencies`. */
  labels?: readonly string[];
  reference?: PredictionReference;
  /** When the serving version was trained (its manifest's `createdAt`). */
  trainedAt?: string;
  now?: Date;
}

export function observe(
  signals: ModelSignals,
  policy: ObserverPolicy,
  context: ObserveContext = {},
): Observation {
  const reasons: string[] = [];
  const result: Observation = { fire: false, reasons };
  const reference = context.reference ?? signals.reference;
  const labels = context.labels;

  if (signals.predictions >= policy.minPredictions) {
    if (reference?.classFrequencies && labels && signals.predictedClasses) {
      const counts = labels.map((label) => signals.predictedClasses?.[label] ?? 0);
      const psi = populationStabilityIndex(reference.classFrequencies, counts);
      result.classPsi = psi;
      if (policy.maxClassPsi !== undefined && psi > policy.maxClassPsi)
        reasons.push(`predicted-class PSI ${psi.toFixed(3)} > ${policy.maxClassPsi}`);
    }
    if (reference?.confidenceHistogram && signals.confidenceHistogram) {
      const psi = populationStabilityIndex(
        reference.confidenceHistogram,
        signals.confidenceHistogram,
      );
      result.confidencePsi = psi;
      if (policy.maxConfidencePsi !== undefined && psi > policy.maxConfidencePsi)
        reasons.push(`confidence PSI ${psi.toFixed(3)} > ${policy.maxConfidencePsi}`);
    }
  }

  const feedback = signals.feedback;
  // Accuracy is about right-or-wrong judgments only: a forecaster's judged values have an
  // error instead, and counting them as "not correct" would read 0 % and fire wrongly.
  const judgedClasses = feedback.judged - (feedback.judgedValues ?? 0);
  if (judgedClasses > 0) result.feedbackAccuracy = feedback.correct / judgedClasses;
  if (
    policy.minFeedbackAccuracy !== undefined &&
    judgedClasses >= policy.minFeedback &&
    feedback.correct / judgedClasses < policy.minFeedbackAccuracy
  ) {
    reasons.push(
      `accuracy on ${judgedClasses} labelled feedback ${(feedback.correct / judgedClasses).toFixed(3)} < ${policy.minFeedbackAccuracy}`,
    );
  }

  const judgedValues = feedback.judgedValues ?? 0;
  const mae = feedback.meanAbsoluteError;
  if (judgedValues > 0 && mae !== undefined) {
    result.feedbackMae = mae;
    const naive = feedback.naiveMeanAbsoluteError;
    // The ratio only over enough days to mean something, and never against a perfect naive.
    if (naive !== undefined && naive > 0 && (feedback.naiveJudged ?? 0) >= policy.minFeedback)
      result.maeVsNaive = mae / naive;
    if (judgedValues >= policy.minFeedback) {
      if (policy.maxFeedbackMae !== undefined && mae > policy.maxFeedbackMae)
        reasons.push(
          `mean absolute error on ${judgedValues} fed-back values ${mae.toPrecision(4)} > ${policy.maxFeedbackMae}`,
        );
      if (
        policy.maxMaeVsNaive !== undefined &&
        result.maeVsNaive !== undefined &&
        result.maeVsNaive > policy.maxMaeVsNaive
      )
        reasons.push(
          `mean absolute error on fed-back values ${result.maeVsNaive.toFixed(3)}x the naive forecast's (${mae.toPrecision(4)} vs ${(naive as number).toPrecision(4)}) > ${policy.maxMaeVsNaive}x`,
        );
    }
  }

  if (context.trainedAt !== undefined) {
    const age =
      ((context.now ?? new Date()).getTime() - Date.parse(context.trainedAt)) / 86_400_000;
    if (Number.isFinite(age)) {
      result.dataAgeDays = age;
      if (policy.maxDataAgeDays !== undefined && age > policy.maxDataAgeDays)
        reasons.push(`training data ${age.toFixed(1)} days old > ${policy.maxDataAgeDays}`);
    }
  }
  result.fire = reasons.length > 0;
  return result;
}
