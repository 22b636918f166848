/** Min-max scaling fitted on training rows, and picking table columns by name. */
import { MscrError } from '../../connectors/errors.ts';
import type { SeriesPreprocessing } from '../../connectors/ms/manifest.ts';
import type { NumericTable } from '../data/index.ts';

export type MinMaxScaler = SeriesPreprocessing['scaler'];

/**
 * Per-column min and max of the rows (fit on the training rows only). A constant column
 * gets min == max; the connector's `scaleRows` then maps it to 0 without dividing by zero.
 */
export function fitMinMax(rows: readonly number[][]): MinMaxScaler {
  const first = rows[0];
  if (first === undefined) throw new MscrError('bad_data', 'cannot fit a scaler on zero rows');
  const min = [...first];
  const max = [...first];
  for (const row of rows) {
    row.forEach((value, c) => {
      if (value < (min[c] as number)) min[c] = value;
      if (value > (max[c] as number)) max[c] = value;
    });
  }
  return { type: 'minmax', min, max };
}

/** The table's rows restricted to `columns`, in that order. */
export function selectColumns(table: NumericTable, columns: readonly string[]): number[][] {
  const indices = columns.map((name) => {
    const index = table.columns.indexOf(name);
    if (index < 0) {
      throw new MscrError(
        'bad_data',
        `the data has no column ${JSON.stringify(name)}; it has ${table.columns.join(', ')}`,
      );
    }
    return index;
  });
  return table.rows.map((row) => indices.map((index) => row[index] as number));
}

export function columnIndex(columns: readonly string[], name: string): number {
  const index = columns.indexOf(name);
  if (index < 0) {
    throw new MscrError(
      'bad_data',
      `target ${JSON.stringify(name)} is not one of the columns ${columns.join(', ')}`,
    );
  }
  return index;
}
