/** Classifier metrics from true and predicted class indices: plain arrays in, plain numbers out. */

export interface ClassMetrics {
  label: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface ClassificationReport {
  accuracy: number;
  macroF1: number;
  /** confusion[trueClass][predictedClass] = count */
  confusion: number[][];
  perClass: ClassMetrics[];
  samples: number;
}

export function classificationReport(
  truth: ArrayLike<number>,
  predicted: ArrayLike<number>,
  labels: readonly string[],
): ClassificationReport {
  if (truth.length !== predicted.length) {
    throw new RangeError(
      `truth has ${truth.length} entries but predictions have ${predicted.length}`,
    );
  }
  const k = labels.length;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let correct = 0;
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i] as number;
    const p = predicted[i] as number;
    if (t < 0 || t >= k || p < 0 || p >= k)
      throw new RangeError(`class index out of range at sample ${i}`);
    (confusion[t] as number[])[p] = ((confusion[t] as number[])[p] as number) + 1;
    if (t === p) correct++;
  }
  const perClass = labels.map((label, c) => {
    const tp = (confusion[c] as number[])[c] as number;
    const support = (confusion[c] as number[]).reduce((a, b) => a + b, 0);
    const predictedAsC = confusion.reduce((sum, row) => sum + (row[c] as number), 0);
    const precision = predictedAsC === 0 ? 0 : tp / predictedAsC;
    const recall = support === 0 ? 0 : tp / support;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    return { label, precision, recall, f1, support };
  });
  const macroF1 = perClass.reduce((sum, c) => sum + c.f1, 0) / Math.max(k, 1);
  return {
    accuracy: truth.length === 0 ? 0 : correct / truth.length,
    macroF1,
    confusion,
    perClass,
    samples: truth.length,
  };
}

/** Row-wise argmax of a [n, k] probability matrix stored flat. */
export function argmaxRows(probabilities: ArrayLike<number>, classes: number): Int32Array {
  const n = probabilities.length / classes;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) {
      if (
        (probabilities[i * classes + c] as number) > (probabilities[i * classes + best] as number)
      )
        best = c;
    }
    out[i] = best;
  }
  return out;
}

/** Fraction of predictions per class and a 10-bin histogram of top-1 confidence: the drift reference. */
export function predictionProfile(probabilities: ArrayLike<number>, classes: number) {
  const n = probabilities.length / classes;
  const classCounts = new Array<number>(classes).fill(0);
  const confidenceCounts = new Array<number>(10).fill(0);
  const top = argmaxRows(probabilities, classes);
  for (let i = 0; i < n; i++) {
    const c = top[i] as number;
    classCounts[c] = (classCounts[c] as number) + 1;
    const confidence = probabilities[i * classes + c] as number;
    const bin = Math.min(9, Math.max(0, Math.floor(confidence * 10)));
    confidenceCounts[bin] = (confidenceCounts[bin] as number) + 1;
  }
  const fraction = (counts: number[]) => counts.map((x) => (n === 0 ? 0 : x / n));
  return {
    classFrequencies: fraction(classCounts),
    confidenceHistogram: fraction(confidenceCounts),
  };
}
