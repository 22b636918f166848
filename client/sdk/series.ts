/**
 * A price CSV as a series of sliding windows, so a forecaster can be asked about every day
 * of a file (as in the MSC/R paper's Figure 4.9: actual against predicted close). The
 * forecast endpoint takes one window per request and does the scaling itself; this module
 * only cuts the file into windows and reads the actual values to compare with.
 */
import {
  csvCells as cells,
  csvLines,
  CsvLimitExceeded,
  FILE_CSV_LIMITS,
  isDecimal,
} from '../../connectors/csv/index.ts';
import { MscrClientError } from './errors.ts';

/** Row order of a CSV file, as the forecast endpoint's `order` parameter names it. */
export type CsvOrder = 'oldest-first' | 'newest-first';

export interface CsvSeries {
  /** Column names, from a header row or a `# a,b,c` comment line naming every column. */
  columns?: string[];
  /** Data rows, oldest first, as their cells (trimmed text). */
  rows: string[][];
  /** The file line (1-based) of each row, and of the header when it is a row of the file. */
  lines?: { rows: number[]; header?: number };
}

/**
 * Reads a numeric CSV (`#` comments, optional header, CRLF or LF). A header is the first
 * non-comment line when one of its cells is not a number, else the last comment line before
 * the data whose names match the data's column count (the GOOG file's `# Open,...,Close`).
 */
export function parseSeriesCsv(text: string, order: CsvOrder = 'oldest-first'): CsvSeries {
  let lines: string[];
  try {
    lines = csvLines(text, FILE_CSV_LIMITS);
  } catch (error) {
    if (error instanceof CsvLimitExceeded) throw new MscrClientError('input', error.message);
    throw error;
  }
  let columns: string[] | undefined;
  let headerLine: number | undefined;
  let commentHeader: string[] | undefined;
  const rows: string[][] = [];
  const rowLines: number[] = [];
  for (let i = 0; i < lines.length; i++) {
    const trimmed = (lines[i] as string).trim();
    if (trimmed === '') continue;
    if (trimmed.startsWith('#')) {
      if (rows.length === 0 && columns === undefined) {
        const names = cells(trimmed.slice(1));
        if (names.length > 1 && names.every((n) => n !== '' && !isDecimal(n)))
          commentHeader = names;
      }
      continue;
    }
    const fields = cells(trimmed);
    if (rows.length === 0 && columns === undefined && fields.some((f) => !isDecimal(f))) {
      columns = fields;
      headerLine = i + 1;
      continue;
    }
    if (rows.length > 0 && fields.length !== (rows[0] as string[]).length) {
      throw new MscrClientError(
        'input',
        `line ${i + 1} has ${fields.length} fields; the lines before it have ${(rows[0] as string[]).length}`,
      );
    }
    rows.push(fields);
    rowLines.push(i + 1);
  }
  if (rows.length === 0) {
    throw new MscrClientError('input', 'the CSV has no data rows');
  }
  const width = (rows[0] as string[]).length;
  if (columns === undefined && commentHeader?.length === width) columns = commentHeader;
  if (columns !== undefined && columns.length !== width) {
    throw new MscrClientError(
      'input',
      `the header names ${columns.length} columns but the data rows have ${width} fields`,
    );
  }
  if (order === 'newest-first') {
    rows.reverse();
    rowLines.reverse();
  }
  const where = { rows: rowLines, ...(headerLine !== undefined ? { header: headerLine } : {}) };
  return columns === undefined ? { rows, lines: where } : { columns, rows, lines: where };
}

/** The index of the target column: by name from the header, else the last column. */
export function targetColumnIndex(
  series: CsvSeries,
  target: string | number | undefined,
): { index: number; guessed: boolean } {
  const width = (series.rows[0] ?? []).length;
  if (typeof target === 'number') {
    if (!Number.isInteger(target) || target < 0 || target >= width)
      throw new MscrClientError('input', `column ${target} is out of range (0-${width - 1})`);
    return { index: target, guessed: false };
  }
  if (target !== undefined && series.columns !== undefined) {
    const index = series.columns.indexOf(target);
    if (index >= 0) return { index, guessed: false };
  }
  return { index: width - 1, guessed: true };
}

export interface SeriesWindow {
  /** Index (in oldest-first rows) of the day this window forecasts; `rows.length` is the day after the file. */
  index: number;
  /** The CSV to post: the header (when known), then `window` rows, oldest first. */
  csv: string;
  /** The file line of each line of `csv` (1-based; 0 when it is not a line of the file). */
  fileLines: number[];
}

/** Every window of `size` rows, each paired with the index of the day it forecasts. */
export function slidingWindows(series: CsvSeries, size: number): SeriesWindow[] {
  if (!Number.isInteger(size) || size < 1) {
    throw new MscrClientError('input', `window size must be a positive integer, got ${size}`);
  }
  if (series.rows.length < size) {
    throw new MscrClientError(
      'input',
      `the CSV has ${series.rows.length} data rows; the model needs at least a window of ${size}`,
    );
  }
  const header = series.columns !== undefined ? `${series.columns.join(',')}\n` : '';
  const windows: SeriesWindow[] = [];
  for (let end = size; end <= series.rows.length; end++) {
    const body = series.rows
      .slice(end - size, end)
      .map((row) => row.join(','))
      .join('\n');
    const fileLines = [
      ...(header !== '' ? [series.lines?.header ?? 0] : []),
      ...(series.lines?.rows.slice(end - size, end) ?? []),
    ];
    windows.push({ index: end, csv: `${header}${body}\n`, fileLines });
  }
  return windows;
}

/**
 * The server names lines of the window it was sent ("line 3, column Volume: ..."); this
 * names the same lines of the user's file instead.
 */
export function toFileLines(message: string, window: SeriesWindow): string {
  return message.replace(/\bline (\d+)\b/g, (text, n: string) => {
    const line = window.fileLines[Number(n) - 1];
    return line ? `line ${line} of the file` : text;
  });
}

/** Numbers of one column; a cell that is not a number is NaN. */
export function columnValues(series: CsvSeries, index: number): number[] {
  return series.rows.map((row) => {
    const cell = row[index] ?? '';
    return isDecimal(cell) ? Number(cell) : Number.NaN;
  });
}

/** Root mean squared error over the pairs where both values are finite. */
export function rmse(
  pairs: readonly { actual?: number; predicted?: number }[],
): number | undefined {
  let sum = 0;
  let n = 0;
  for (const { actual, predicted } of pairs) {
    if (actual === undefined || predicted === undefined) continue;
    if (!Number.isFinite(actual) || !Number.isFinite(predicted)) continue;
    sum += (actual - predicted) ** 2;
    n++;
  }
  return n === 0 ? undefined : Math.sqrt(sum / n);
}

/** Runs `task` over `items` with at most `limit` at a time; results in input order. The first failure stops it. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (next < items.length && !failed) {
      const index = next++;
      try {
        results[index] = await task(items[index] as T, index);
      } catch (error) {
        failed = true; // the other workers stop taking items
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}
