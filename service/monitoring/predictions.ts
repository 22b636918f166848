/**
 * What a model predicted, row by row, read from its output the same way for every protocol:
 * a classifier's top class and its confidence, a forecaster's value in the data's units.
 * The monitoring (prediction log, signals, metrics) is built on this.
 */
import type { ModelManifest } from '../../connectors/ms/manifest.ts';
import { forecastFromOutput } from '../protocols/index.ts';
import type { LoggedInput } from './prediction-log.ts';

export type Predicted =
  | { kind: 'class'; index: number; label: string; confidence: number }
  | { kind: 'value'; value: number }
  /** A detector's answer on `/detect`: how many boxes it found (the boxes went to the caller). */
  | { kind: 'boxes'; count: number };

/** The part of an inference result the monitoring reads. */
export interface Prediction {
  model: string;
  version: number;
  manifest: ModelManifest;
  output: Float32Array;
  shape: number[];
}

/** Whether a model's answers are classes: labels, and one output per label. */
export function isClassifier(manifest: ModelManifest): boolean {
  return (manifest.labels?.length ?? 0) > 0;
}

/**
 * One `Predicted` per row of the output, or undefined when the output is neither a
 * classifier's `[rows, labels]` nor a forecaster's `[rows, 1]` (nothing to monitor then).
 */
export function predictionsOf(result: Prediction): Predicted[] | undefined {
  const { manifest, output, shape } = result;
  // A detector's rows are boxes, read by the detect route (it logs its own answers).
  if (manifest.task === 'object-detection') return undefined;
  const rows = shape[0] ?? 0;
  if (rows <= 0 || output.length % rows !== 0) return undefined;
  const width = output.length / rows;
  const labels = manifest.labels ?? [];
  if (labels.length > 0) {
    if (width !== labels.length) return undefined;
    const predicted: Predicted[] = [];
    for (let row = 0; row < rows; row++) {
      const offset = row * width;
      let best = 0;
      for (let c = 1; c < width; c++)
        if ((output[offset + c] as number) > (output[offset + best] as number)) best = c;
      predicted.push({
        kind: 'class',
        index: best,
        label: labels[best] ?? String(best),
        confidence: output[offset + best] as number,
      });
    }
    return predicted;
  }
  if (width !== 1 || manifest.preprocessing.kind === 'image') return undefined;
  const values: Predicted[] = [];
  for (const raw of output) {
    if (!Number.isFinite(raw)) return undefined;
    values.push({ kind: 'value', value: forecastFromOutput(raw, manifest) });
  }
  return values;
}

/**
 * The naive forecast for a logged forecaster input: tomorrow is today, so the last row's
 * target value of the window, in the data's units. The yardstick the forecaster's errors
 * on feedback are compared with. Undefined when the model is no series forecaster or the
 * window is not at hand.
 */
export function naiveForecastOf(
  input: LoggedInput | undefined,
  manifest: ModelManifest,
): number | undefined {
  const spec = manifest.preprocessing;
  if (input === undefined || spec.kind !== 'series') return undefined;
  const target = spec.columns.indexOf(spec.target);
  if (target < 0) return undefined;
  if (input.kind === 'csv') {
    // What the forecast route logs: a header of the model's columns, then the window's rows.
    const lines = input.text.trimEnd().split('\n');
    const last = lines.length > 1 ? lines[lines.length - 1] : undefined;
    const value = Number(last?.split(',')[target]);
    return Number.isFinite(value) ? value : undefined;
  }
  if (input.kind === 'tensor') {
    // A V1/V2 row: the scaled window, `[window, columns]`.
    const columns = input.shape[input.shape.length - 1] ?? 0;
    const index = input.data.length - columns + target;
    if (columns !== spec.columns.length || index < 0) return undefined;
    const scaled = input.data[index] as number;
    return Number.isFinite(scaled) ? forecastFromOutput(scaled, manifest) : undefined;
  }
  return undefined;
}
