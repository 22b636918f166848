/**
 * The rollout analyser: a pure function from two windows of live figures (stable and
 * candidate, over the same time) to a decision, with every figure it used.
 *
 * Order of judgement:
 * 1. Too few requests on either side (`minRequests`): `hold`, nothing is judged.
 * 2. Any threshold broken: `rollback`, naming each broken check.
 * 3. Every check passes but the step's time is not over: `hold`.
 * 4. Otherwise: `advance` to the next canary weight, or `promote` when the next weight
 *    would be 100 % (at 100 % stable has no traffic left to compare with); shadow mode
 *    advances to the first canary step, or holds for a person when no steps are set.
 *
 * Ties are passes: a candidate is rolled back only when it is *worse* than stable by more
 * than the threshold allows (a figure exactly at the limit passes).
 */
import type { RolloutMode, RolloutThresholds } from '../../connectors/store/rollout.ts';

export type Decision = 'advance' | 'hold' | 'promote' | 'rollback';

/** What one side answered in the window. */
export interface SideWindow {
  requests: number;
  /** Requests the version failed (engine errors, not bad input). */
  errors: number;
  /** Latencies in milliseconds of the answered requests (any order). */
  latenciesMs: readonly number[];
  /** Per class, how many rows it predicted (empty for models without classes). */
  classCounts: readonly number[];
  /** Feedback about this version's predictions. */
  feedback: { total: number; correct: number };
}

export interface AnalysisInput {
  mode: RolloutMode;
  /** Canary weights and the index of the current one. */
  steps: readonly number[];
  step: number;
  /** Time spent at the current step, and the least time a step takes. */
  stepElapsedMs: number;
  stepEveryMs: number;
  thresholds: RolloutThresholds;
  stable: SideWindow;
  candidate: SideWindow;
  /** Shadow mode: requests both answered, and on how many their answers agreed. */
  shadow?: { compared: number; agreed: number };
}

export interface SideFigures {
  requests: number;
  errors: number;
  errorRate: number;
  p99Ms: number | null;
  accuracy: number | null;
  feedback: number;
}

export interface Analysis {
  decision: Decision;
  reason: string;
  /** The checks that failed (empty unless `rollback`). */
  failed: string[];
  /** The weight to move to (`advance`): a canary percentage. */
  nextWeight?: number;
  figures: {
    stable: SideFigures;
    candidate: SideFigures;
    psi: number | null;
    agreement: number | null;
    compared: number;
    thresholds: RolloutThresholds;
    stepElapsedMs: number;
  };
}

/** Nearest-rank percentile; null for no samples. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] ?? null;
}

/** Floor of a bin's share, so an empty bin does not make the index infinite. */
const PSI_FLOOR = 1e-4;

/**
 * Population stability index between two count vectors: sum over bins of
 * (c - s) * ln(c / s) on proportions. Null when either side has no counts.
 */
export function psi(stable: readonly number[], candidate: readonly number[]): number | null {
  const bins = Math.max(stable.length, candidate.length);
  const totalS = stable.reduce((a, b) => a + b, 0);
  const totalC = candidate.reduce((a, b) => a + b, 0);
  if (bins === 0 || totalS === 0 || totalC === 0) return null;
  let sum = 0;
  for (let i = 0; i < bins; i++) {
    const s = Math.max(PSI_FLOOR, (stable[i] ?? 0) / totalS);
    const c = Math.max(PSI_FLOOR, (candidate[i] ?? 0) / totalC);
    sum += (c - s) * Math.log(c / s);
  }
  return sum;
}

function sideFigures(side: SideWindow): SideFigures {
  return {
    requests: side.requests,
    errors: side.errors,
    errorRate: side.requests === 0 ? 0 : side.errors / side.requests,
    p99Ms: percentile(side.latenciesMs, 99),
    accuracy: side.feedback.total === 0 ? null : side.feedback.correct / side.feedback.total,
    feedback: side.feedback.total,
  };
}

const round = (x: number): number => Math.round(x * 1e6) / 1e6;

export function analyse(input: AnalysisInput): Analysis {
  const t = input.thresholds;
  const stable = sideFigures(input.stable);
  const candidate = sideFigures(input.candidate);
  const distance = psi(input.stable.classCounts, input.candidate.classCounts);
  const compared = input.shadow?.compared ?? 0;
  const agreement =
    input.shadow !== undefined && compared > 0 ? input.shadow.agreed / compared : null;
  const figures = {
    stable,
    candidate,
    psi: distance === null ? null : round(distance),
    agreement: agreement === null ? null : round(agreement),
    compared,
    thresholds: { ...t },
    stepElapsedMs: input.stepElapsedMs,
  };
  const result = (decision: Decision, reason: string, extra: Partial<Analysis> = {}): Analysis => ({
    decision,
    reason,
    failed: [],
    ...extra,
    figures,
  });

  // In shadow mode the candidate answers copies of stable's requests: its count is `compared`.
  if (stable.requests < t.minRequests || candidate.requests < t.minRequests) {
    return result(
      'hold',
      `too few requests to judge: stable ${stable.requests}, candidate ${candidate.requests}, need ${t.minRequests} each`,
    );
  }

  const failed: string[] = [];
  const errorIncrease = candidate.errorRate - stable.errorRate;
  if (errorIncrease > t.maxErrorRateIncrease) {
    failed.push(
      `error rate ${round(candidate.errorRate)} vs stable ${round(stable.errorRate)} (more than +${t.maxErrorRateIncrease})`,
    );
  }
  if (stable.p99Ms !== null && candidate.p99Ms !== null) {
    const limit = stable.p99Ms * t.maxLatencyRatio + t.latencySlackMs;
    if (candidate.p99Ms > limit) {
      failed.push(
        `p99 latency ${round(candidate.p99Ms)} ms vs stable ${round(stable.p99Ms)} ms (limit ${round(limit)} ms)`,
      );
    }
  }
  if (
    stable.accuracy !== null &&
    candidate.accuracy !== null &&
    stable.feedback >= t.minFeedback &&
    candidate.feedback >= t.minFeedback &&
    stable.accuracy - candidate.accuracy > t.maxAccuracyDrop
  ) {
    failed.push(
      `feedback accuracy ${round(candidate.accuracy)} vs stable ${round(stable.accuracy)} (more than -${t.maxAccuracyDrop})`,
    );
  }
  if (distance !== null && distance > t.maxPsi) {
    failed.push(`prediction PSI ${round(distance)} (more than ${t.maxPsi})`);
  }
  if (agreement !== null && compared >= t.minRequests && agreement < t.minAgreement) {
    failed.push(`shadow agreement ${round(agreement)} (less than ${t.minAgreement})`);
  }
  if (failed.length > 0) {
    return result(
      'rollback',
      `candidate broke ${failed.length === 1 ? 'a threshold' : 'thresholds'}: ${failed.join('; ')}`,
      { failed },
    );
  }

  if (input.mode === 'shadow' && input.steps.length === 0) {
    return result('hold', 'shadow passes every check; promote it or start a canary by hand');
  }
  if (input.stepElapsedMs < input.stepEveryMs) {
    return result(
      'hold',
      `candidate holds; ${Math.ceil((input.stepEveryMs - input.stepElapsedMs) / 1000)} s left at this step`,
    );
  }
  if (input.mode === 'shadow') {
    const first = input.steps[0] ?? 100;
    return first >= 100
      ? result('promote', 'shadow passes every check; the first step is 100 %')
      : result('advance', `shadow passes every check; canary at ${first} %`, { nextWeight: first });
  }
  const next = input.steps[input.step + 1];
  if (next === undefined || next >= 100) {
    return result('promote', 'candidate passes every check at the last step before 100 %');
  }
  return result('advance', `candidate passes every check; canary at ${next} %`, {
    nextWeight: next,
  });
}
