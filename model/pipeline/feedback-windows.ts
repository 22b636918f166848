/**
 * Fed-back days for a forecaster (production feedback: the window the Service forecast from
 * and the value that came true), made into training rows.
 *
 * - Only the training part grows: the held-out tail stays the base data's, so the gate scores
 *   the candidate and the serving version on the same days.
 * - De-duplicated: the same window fed back twice counts once (the newest actual wins), and
 *   a day the base data already holds (its window followed by a row) is left out, so a
 *   held-out day can never leak into training through feedback.
 * - The scaler is fitted on the training rows and these windows together, so a regime the
 *   base data never saw (prices above its maximum) is inside the scaled range.
 */
import type { ExtraWindow } from '../../connectors/mr/index.ts';
import type { NumericTable } from '../data/index.ts';

export interface UsableWindows {
  /** Each usable window as a table: its rows, then a row whose target is the actual. */
  tables: NumericTable[];
  /** Every row of those windows, in the base table's columns (for fitting the scaler). */
  rows: number[][];
  /** Why the others were left out, counted. */
  duplicates: number;
  inBase: number;
  unusable: number;
}

const keyOf = (rows: readonly (readonly number[])[]) => rows.map((row) => row.join(',')).join(';');

/**
 * The fed-back windows worth training on, in `base`'s columns. `base` is the whole base
 * table (train and held-out), oldest row first; `window` the model's window length.
 */
export function usableWindows(
  extra: readonly ExtraWindow[],
  base: NumericTable,
  window: number,
  target: string,
): UsableWindows {
  const targetIndex = base.columns.indexOf(target);
  // Base windows that are followed by a row: their next day is known already.
  const known = new Set<string>();
  for (let start = 0; start + window < base.rows.length; start++) {
    known.add(keyOf(base.rows.slice(start, start + window)));
  }
  const byWindow = new Map<string, { rows: number[][]; actual: number; source: string }>();
  let unusable = 0;
  let inBase = 0;
  let duplicates = 0;
  for (const item of extra) {
    const picks = base.columns.map((column) => item.columns.indexOf(column));
    if (
      targetIndex < 0 ||
      picks.some((pick) => pick < 0) ||
      item.rows.length !== window ||
      !Number.isFinite(item.actual)
    ) {
      unusable += 1;
      continue;
    }
    const rows = item.rows.map((row) => picks.map((pick) => row[pick] as number));
    if (rows.some((row) => row.some((value) => !Number.isFinite(value)))) {
      unusable += 1;
      continue;
    }
    const key = keyOf(rows);
    if (known.has(key)) {
      inBase += 1;
      continue;
    }
    if (byWindow.has(key)) duplicates += 1;
    // Later records (the store lists them oldest first) replace earlier ones.
    byWindow.set(key, { rows, actual: item.actual, source: item.source });
  }
  const tables: NumericTable[] = [];
  const allRows: number[][] = [];
  for (const { rows, actual, source } of byWindow.values()) {
    // The day after: only its target is known; the window maker reads nothing else of it.
    const next = [...(rows[rows.length - 1] as number[])];
    next[targetIndex] = actual;
    tables.push({
      kind: 'table',
      columns: [...base.columns],
      rows: [...rows, next],
      sources: [source],
      fingerprint: '',
    });
    allRows.push(...rows, next);
  }
  return { tables, rows: allRows, duplicates, inBase, unusable };
}
