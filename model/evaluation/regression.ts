/** Regression metrics on values in the target's original units. */

export interface RegressionReport {
  rmse: number;
  mae: number;
  /** Mean absolute percentage error, over targets that are not zero. */
  mape: number;
  samples: number;
}

export function regressionReport(
  truth: ArrayLike<number>,
  predicted: ArrayLike<number>,
): RegressionReport {
  if (truth.length !== predicted.length) {
    throw new RangeError(
      `truth has ${truth.length} entries but predictions have ${predicted.length}`,
    );
  }
  let squared = 0;
  let absolute = 0;
  let percent = 0;
  let percentCount = 0;
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i] as number;
    const error = (predicted[i] as number) - t;
    squared += error * error;
    absolute += Math.abs(error);
    if (t !== 0) {
      percent += Math.abs(error / t);
      percentCount++;
    }
  }
  const n = Math.max(truth.length, 1);
  return {
    rmse: Math.sqrt(squared / n),
    mae: absolute / n,
    mape: percentCount === 0 ? 0 : (100 * percent) / percentCount,
    samples: truth.length,
  };
}

export function meanAndStd(values: ArrayLike<number>): { mean: number; std: number } {
  const n = Math.max(values.length, 1);
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] as number;
  const mean = sum / n;
  let variance = 0;
  for (let i = 0; i < values.length; i++) variance += ((values[i] as number) - mean) ** 2;
  return { mean, std: Math.sqrt(variance / n) };
}
