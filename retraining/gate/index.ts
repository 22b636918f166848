/**
 * The gate: may a candidate replace the serving version? A pure function of the two models'
 * metrics on the same held-out data and a policy, so every decision can be replayed from the
 * run record.
 */
export interface GatePolicy {
  /** The metric compared, e.g. `accuracy` or `rmse`. */
  metric: string;
  higherIsBetter: boolean;
  /** How much worse (absolute, in the metric's units) the candidate may be and still pass. */
  tolerance: number;
  /**
   * Fewest held-out samples a comparison with a serving version may rest on: below it the
   * two scores differ by luck as much as by quality, and the serving version stays.
   */
  minHeldOut?: number;
}

/** 30 held-out samples: one sample moves accuracy by ~3 points, still above that noise floor. */
export const DEFAULT_MIN_HELD_OUT = 30;

export interface GateDecision {
  pass: boolean;
  /** One sentence for the run record and the operator. */
  reason: string;
}

const show = (value: number): string =>
  Number.isInteger(value) ? String(value) : value.toFixed(4);

export function decide(
  candidate: Readonly<Record<string, number>>,
  baseline: { version: number; metrics: Readonly<Record<string, number>> } | undefined,
  policy: GatePolicy,
  heldOut?: number,
): GateDecision {
  const { metric, higherIsBetter, tolerance } = policy;
  const mine = candidate[metric];
  if (mine === undefined || !Number.isFinite(mine)) {
    return { pass: false, reason: `the candidate has no finite ${metric} to compare` };
  }
  if (baseline === undefined) {
    return {
      pass: true,
      reason: `no version is serving; the candidate's ${metric} is ${show(mine)}`,
    };
  }
  const minimum = policy.minHeldOut ?? DEFAULT_MIN_HELD_OUT;
  if (heldOut !== undefined && heldOut < minimum) {
    return {
      pass: false,
      reason: `only ${heldOut} held-out samples to compare with version ${baseline.version} (fewer than ${minimum}): more data or a larger --test-fraction, or lower --min-held-out`,
    };
  }
  const theirs = baseline.metrics[metric];
  if (theirs === undefined || !Number.isFinite(theirs)) {
    return {
      pass: true,
      reason: `version ${baseline.version} has no ${metric} on the held-out data; the candidate's is ${show(mine)}`,
    };
  }
  const margin = higherIsBetter ? mine - theirs : theirs - mine;
  const compared = `${metric} ${show(mine)} vs ${show(theirs)} for version ${baseline.version} (${higherIsBetter ? 'higher' : 'lower'} is better, tolerance ${show(tolerance)})`;
  return margin >= -tolerance
    ? { pass: true, reason: `candidate at least as good: ${compared}` }
    : { pass: false, reason: `candidate worse: ${compared}` };
}
