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
}

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
