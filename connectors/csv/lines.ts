/**
 * Lines and cells of a CSV text, with the size limits checked *before* any cell is looked at,
 * so a hostile body costs at most one scan of its bytes.
 */

export interface CsvLimits {
  /** Longest line, in characters (UTF-16 code units), comments included. */
  maxLineLength: number;
  /** Most lines, blank and comment lines included. */
  maxLines: number;
}

/** Limits for a CSV posted to the Service: a window or a few thousand rows, never a data set. */
export const REQUEST_CSV_LIMITS: CsvLimits = { maxLineLength: 64 * 1024, maxLines: 100_000 };

/** Limits for a data file read from disk or a store: wide rows and long files are fine. */
export const FILE_CSV_LIMITS: CsvLimits = {
  maxLineLength: 4 * 1024 * 1024,
  maxLines: 50_000_000,
};

/** A limit a CSV text breaks; the caller wraps it in its own error type. */
export class CsvLimitExceeded extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CsvLimitExceeded';
  }
}

/**
 * The lines of `text` (a leading byte-order mark dropped; LF or CRLF), after checking the
 * limits. Throws `CsvLimitExceeded` naming the first line (1-based) that breaks one.
 */
export function csvLines(text: string, limits: CsvLimits): string[] {
  const lines: string[] = [];
  let start = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  while (start <= text.length) {
    if (lines.length === limits.maxLines) {
      throw new CsvLimitExceeded(
        `the CSV has more than ${limits.maxLines} lines; send at most ${limits.maxLines}`,
      );
    }
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const contentEnd = end > start && text.charCodeAt(end - 1) === 13 ? end - 1 : end; // '\r'
    if (contentEnd - start > limits.maxLineLength) {
      throw new CsvLimitExceeded(
        `line ${lines.length + 1} is ${contentEnd - start} characters long; the limit is ${limits.maxLineLength}`,
      );
    }
    lines.push(text.slice(start, contentEnd));
    start = end + 1;
  }
  return lines;
}

/** The cells of one line: split on commas, trimmed, one pair of surrounding quotes removed. */
export function csvCells(line: string): string[] {
  return line.split(',').map((cell) => {
    const trimmed = cell.trim();
    return trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"')
      ? trimmed.slice(1, -1).trim()
      : trimmed;
  });
}
