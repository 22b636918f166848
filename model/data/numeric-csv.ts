/**
 * Numeric CSV loader (prices, sensor readings, ...): every cell a number.
 *
 * - `#` lines are comments. When the last comment line before the data looks like a column
 *   list (`# Open,High,Low,Volume,Close`: 2+ word-like names, as many as the data has
 *   fields) it names the columns.
 * - CRLF or LF line endings; blank lines are ignored.
 * - Header row: `hasHeader: 'auto'` (default) takes the first non-comment row as a header
 *   when any of its cells is not a number.
 * - Row order: the result is always oldest first. `order: 'newest-first'` (the default, the
 *   order of Yahoo Finance exports such as the GOOG file) reverses the file's rows;
 *   `'oldest-first'` keeps them; `'auto'` orders by a numeric `date`/`time`/`timestamp`
 *   column when there is one (reversing it if it decreases) and otherwise assumes
 *   newest-first, like the default.
 * - Any empty or non-numeric cell, or a row with the wrong number of fields, is an error
 *   naming the line (1-based, counting comment lines, as an editor shows it).
 */
import { readFile } from 'node:fs/promises';
import {
  csvCells,
  csvLines,
  CsvLimitExceeded,
  FILE_CSV_LIMITS,
  isDecimal,
} from '../../connectors/csv/index.ts';
import { MscrError } from '../../connectors/errors.ts';
import { fingerprintTable } from './fingerprint.ts';
import { resolveDataPath } from './resolve-path.ts';
import type { NumericTable } from './types.ts';

export type RowOrder = 'auto' | 'newest-first' | 'oldest-first';

export interface NumericCsvOptions {
  /**
   * When the file names its columns (header or comment list): the columns to keep, by name,
   * in this order. When it does not: names for all its columns, in file order.
   */
  columns?: string[];
  hasHeader?: 'auto' | boolean;
  order?: RowOrder;
}

/** A name in a `# a,b,c` comment: a word or a few, no punctuation beyond `_` and `-`. */
const COLUMN_NAME = /^[A-Za-z_][\w -]{0,39}$/;
const TIME_COLUMN = /^(date|time|timestamp|day)$/i;

function orderRows(
  rows: number[][],
  columns: string[],
  order: RowOrder,
  where: string,
): number[][] {
  if (order === 'oldest-first') return rows;
  if (order === 'auto') {
    const t = columns.findIndex((name) => TIME_COLUMN.test(name));
    if (t >= 0 && rows.length > 1) {
      const values = rows.map((row) => row[t] as number);
      const rising = values.every((v, i) => i === 0 || v >= (values[i - 1] as number));
      const falling = values.every((v, i) => i === 0 || v <= (values[i - 1] as number));
      if (rising) return rows;
      if (falling) return rows.reverse();
      throw new MscrError(
        'bad_data',
        `${where}: column ${columns[t]} is neither increasing nor decreasing; sort the file or pass order explicitly`,
      );
    }
  }
  return rows.reverse();
}

/** Parses CSV text; `where` names the source in errors. Rows come back oldest first. */
export function parseNumericCsv(
  text: string,
  options: NumericCsvOptions = {},
  where = 'csv',
): { columns: string[]; rows: number[][] } {
  let lines: string[];
  try {
    lines = csvLines(text, FILE_CSV_LIMITS);
  } catch (error) {
    if (error instanceof CsvLimitExceeded)
      throw new MscrError('bad_data', `${where}: ${error.message}`);
    throw error;
  }
  let commentColumns: string[] | undefined;
  let header: string[] | undefined;
  let fieldCount: number | undefined;
  const rows: number[][] = [];
  const hasHeader = options.hasHeader ?? 'auto';

  lines.forEach((line, i) => {
    const lineNo = i + 1;
    const trimmed = line.trim();
    if (trimmed === '') return;
    if (trimmed.startsWith('#')) {
      if (fieldCount === undefined) {
        const names = csvCells(trimmed.slice(1));
        const looksLikeColumns = names.length >= 2 && names.every((name) => COLUMN_NAME.test(name));
        commentColumns = looksLikeColumns ? names : undefined;
      }
      return;
    }
    const cells = csvCells(line);
    if (fieldCount === undefined) {
      fieldCount = cells.length;
      const isHeader = hasHeader === 'auto' ? cells.some((cell) => !isDecimal(cell)) : hasHeader;
      if (isHeader) {
        const empty = cells.findIndex((cell) => cell === '');
        if (empty >= 0) {
          throw new MscrError(
            'bad_data',
            `${where}:${lineNo}: header column ${empty + 1} is empty`,
          );
        }
        header = cells;
        return;
      }
    }
    if (cells.length !== fieldCount) {
      throw new MscrError(
        'bad_data',
        `${where}:${lineNo}: ${cells.length} fields; expected ${fieldCount}: ${JSON.stringify(line)}`,
      );
    }
    const names = header ?? commentColumns;
    rows.push(
      cells.map((cell, c) => {
        if (!isDecimal(cell)) {
          const column = names?.[c] ?? `${c + 1}`;
          throw new MscrError(
            'bad_data',
            `${where}:${lineNo}: column ${column} (field ${c + 1}): ${cell === '' ? 'empty cell' : `${JSON.stringify(cell)} is not a number`}`,
          );
        }
        const value = Number(cell);
        if (!Number.isFinite(value)) {
          throw new MscrError('bad_data', `${where}:${lineNo}: ${cell} is out of range`);
        }
        return value;
      }),
    );
  });

  if (fieldCount === undefined || rows.length === 0) {
    throw new MscrError('bad_data', `${where}: no data rows`);
  }
  if (commentColumns !== undefined && commentColumns.length !== fieldCount) {
    commentColumns = undefined; // a comment with commas that is not this file's column list
  }
  const fileColumns = header ?? commentColumns;
  let columns: string[];
  let selected = rows;
  if (fileColumns === undefined) {
    columns = options.columns ?? Array.from({ length: fieldCount }, (_, c) => `col${c + 1}`);
    if (columns.length !== fieldCount) {
      throw new MscrError(
        'bad_data',
        `${where}: ${columns.length} column names given for ${fieldCount} fields`,
      );
    }
  } else if (options.columns === undefined) {
    columns = fileColumns;
  } else {
    const indices = options.columns.map((name) => {
      const index = fileColumns.indexOf(name);
      if (index < 0) {
        throw new MscrError(
          'bad_data',
          `${where}: no column ${JSON.stringify(name)}; the file has ${fileColumns.join(', ')}`,
        );
      }
      return index;
    });
    columns = [...options.columns];
    selected = rows.map((row) => indices.map((index) => row[index] as number));
  }
  if (new Set(columns).size !== columns.length) {
    throw new MscrError('bad_data', `${where}: duplicate column names in ${columns.join(', ')}`);
  }
  return { columns, rows: orderRows(selected, columns, options.order ?? 'newest-first', where) };
}

/** Loads a numeric CSV file (path or file:// URI) as a `NumericTable`, oldest row first. */
export async function loadNumericCsv(
  uriOrPath: string,
  options: NumericCsvOptions = {},
): Promise<NumericTable> {
  const path = resolveDataPath(uriOrPath);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new MscrError(
      missing ? 'not_found' : 'bad_data',
      missing ? `data file ${path} does not exist` : `cannot read ${path}: ${String(error)}`,
      { cause: error },
    );
  }
  const { columns, rows } = parseNumericCsv(text, options, path);
  return {
    kind: 'table',
    columns,
    rows,
    sources: [path],
    fingerprint: fingerprintTable({ columns, rows }),
  };
}
