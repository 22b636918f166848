/**
 * Tabular features for linear regression: the scaled values of one row (every column the
 * model sees, the target's current value included) -> the target column of the next row.
 * Produces the manifest's `TabularPreprocessing`.
 */
import * as tf from '@tensorflow/tfjs';
import { MscrError } from '../../connectors/errors.ts';
import type { TabularPreprocessing } from '../../connectors/ms/manifest.ts';
import { scaleRows } from '../../connectors/ms/preprocessing.ts';
import type { NumericTable } from '../data/index.ts';
import { columnIndex, fitMinMax, selectColumns } from './scaling.ts';
import type { FeatureStrategy, Features } from './types.ts';

export type TabularFeatureStrategy = FeatureStrategy<
  NumericTable,
  TabularPreprocessing,
  Features<tf.Tensor2D, tf.Tensor2D>
>;

export interface TabularOptions {
  /** Column to predict for the next row (default `Close`). */
  target?: string;
  /** Columns the model sees, in order (default: all of the table's). */
  columns?: string[];
}

/** x [N, features] = scaled row i; y [N, 1] = scaled target of row i + 1; N = rows - 1. */
export function makeNextRowPairs(
  scaledRows: readonly number[][],
  targetIndex: number,
): Features<tf.Tensor2D, tf.Tensor2D> {
  const n = scaledRows.length - 1;
  if (n < 1) throw new MscrError('bad_data', 'need at least 2 rows to pair a row with the next');
  const features = scaledRows[0]?.length ?? 0;
  const x = new Float32Array(n * features);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    x.set(scaledRows[i] as number[], i * features);
    y[i] = (scaledRows[i + 1] as number[])[targetIndex] as number;
  }
  return { x: tf.tensor2d(x, [n, features]), y: tf.tensor2d(y, [n, 1]) };
}

export function tabularNextRow(options: TabularOptions = {}): TabularFeatureStrategy {
  const target = options.target ?? 'Close';
  return {
    name: 'tabular-next-row',
    fit(train) {
      const columns = options.columns ?? [...train.columns];
      columnIndex(columns, target);
      const scaler = fitMinMax(selectColumns(train, columns));
      return { kind: 'tabular', columns: [...columns], target, scaler };
    },
    transform(data, spec) {
      const scaled = scaleRows(selectColumns(data, spec.columns), spec);
      return makeNextRowPairs(scaled, columnIndex(spec.columns, spec.target));
    },
  };
}
