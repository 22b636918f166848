/**
 * Series forecasting features (the MSC/R paper's stock case): `window` consecutive rows of
 * all columns -> the target column of the next row, min-max scaled with a scaler fitted on
 * the training rows only. Produces the manifest's `SeriesPreprocessing`.
 */
import * as tf from '@tensorflow/tfjs';
import { MscrError } from '../../connectors/errors.ts';
import type { SeriesPreprocessing } from '../../connectors/ms/manifest.ts';
import { scaleRows } from '../../connectors/ms/preprocessing.ts';
import type { NumericTable } from '../data/index.ts';
import { columnIndex, fitMinMax, selectColumns } from './scaling.ts';
import type { FeatureStrategy, Features } from './types.ts';

export const DEFAULT_WINDOW = 7;

export type SeriesFeatureStrategy = FeatureStrategy<
  NumericTable,
  SeriesPreprocessing,
  Features<tf.Tensor3D, tf.Tensor2D>
>;

/**
 * Sliding windows over (already scaled) rows, oldest first: x[i] = rows i..i+window-1
 * ([N, window, features]), y[i] = rows[i+window][targetIndex] ([N, 1]); N = rows - window.
 */
export function makeWindows(
  scaledRows: readonly number[][],
  window = DEFAULT_WINDOW,
  targetIndex = 0,
): Features<tf.Tensor3D, tf.Tensor2D> {
  if (!Number.isInteger(window) || window < 1) {
    throw new MscrError('config', `window must be a positive integer, got ${window}`);
  }
  const features = scaledRows[0]?.length ?? 0;
  if (!Number.isInteger(targetIndex) || targetIndex < 0 || targetIndex >= features) {
    throw new MscrError('config', `target index ${targetIndex} is outside 0..${features - 1}`);
  }
  const n = scaledRows.length - window;
  if (n < 1) {
    throw new MscrError(
      'bad_data',
      `${scaledRows.length} rows make no window of ${window} with a next row; need at least ${window + 1}`,
    );
  }
  const x = new Float32Array(n * window * features);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < window; t++) {
      x.set(scaledRows[i + t] as number[], (i * window + t) * features);
    }
    y[i] = (scaledRows[i + window] as number[])[targetIndex] as number;
  }
  return { x: tf.tensor3d(x, [n, window, features]), y: tf.tensor2d(y, [n, 1]) };
}

export interface SeriesWindowOptions {
  window?: number;
  /** Column to predict (default `Close`). */
  target?: string;
  /** Columns the model sees, in order (default: all of the table's). */
  columns?: string[];
}

/** The windowing strategy; `fit` needs the training rows only. */
export function seriesWindows(options: SeriesWindowOptions = {}): SeriesFeatureStrategy {
  const window = options.window ?? DEFAULT_WINDOW;
  const target = options.target ?? 'Close';
  return {
    name: `series-window-${window}`,
    fit(train) {
      const columns = options.columns ?? [...train.columns];
      columnIndex(columns, target);
      if (train.rows.length < window + 1) {
        throw new MscrError(
          'bad_data',
          `${train.rows.length} training rows are too few for a window of ${window}`,
        );
      }
      const scaler = fitMinMax(selectColumns(train, columns));
      return { kind: 'series', columns: [...columns], target, window, scaler };
    },
    transform(data, spec) {
      const scaled = scaleRows(selectColumns(data, spec.columns), spec);
      return makeWindows(scaled, spec.window, columnIndex(spec.columns, spec.target));
    },
  };
}
