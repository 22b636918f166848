import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ExtraWindow } from '../../connectors/mr/index.ts';
import type { NumericTable } from '../data/index.ts';
import { usableWindows } from './feedback-windows.ts';

// Oldest first: day i has Open 100 + i, Close 200 + i.
const base: NumericTable = {
  kind: 'table',
  columns: ['Open', 'Close'],
  rows: Array.from({ length: 10 }, (_, i) => [100 + i, 200 + i]),
  sources: ['base.csv'],
  fingerprint: 'f',
};
const fed = (rows: number[][], actual: number, columns = ['Open', 'Close']): ExtraWindow => ({
  columns,
  rows,
  actual,
  source: `feedback ${actual}`,
});

test('fed-back windows: new days kept in the base columns, repeats once (newest wins), known days and bad ones left out', () => {
  const later = [
    [150, 250],
    [151, 251],
    [152, 252],
  ];
  const result = usableWindows(
    [
      fed(later, 260),
      // The same window again with a corrected actual: one day, the newest actual.
      fed(later, 261),
      // Columns in another order: mapped by name.
      fed(
        [
          [352, 152],
          [353, 153],
          [354, 154],
        ],
        262,
        ['Close', 'Open'],
      ),
      // Base days 3..5, followed by day 6 in the base: already known (and maybe held out).
      fed(
        [
          [103, 203],
          [104, 204],
          [105, 205],
        ],
        999,
      ),
      // The base's last window has no next day in the base: a new day.
      fed(
        [
          [107, 207],
          [108, 208],
          [109, 209],
        ],
        210,
      ),
      // A missing column, a window of the wrong length, a value that is no number.
      fed([[1], [2], [3]], 1, ['Open']),
      fed([[1, 2]], 1),
      fed(
        [
          [1, 2],
          [1, Number.NaN],
          [1, 2],
        ],
        1,
      ),
    ],
    base,
    3,
    'Close',
  );
  assert.equal(result.duplicates, 1);
  assert.equal(result.inBase, 1);
  assert.equal(result.unusable, 3);
  assert.deepEqual(
    result.tables.map((t) => t.rows),
    [
      [...later, [152, 261]],
      [
        [152, 352],
        [153, 353],
        [154, 354],
        [154, 262],
      ],
      [
        [107, 207],
        [108, 208],
        [109, 209],
        [109, 210],
      ],
    ],
  );
  // The scaler sees every row of them, actuals included.
  assert.equal(result.rows.length, 12);
  assert.ok(result.rows.some((row) => row[1] === 262));
});
