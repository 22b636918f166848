/**
 * TEMPORARY: stands in for the shared `connectors/csv` reader the lead is adding on main (same
 * names); replaced by an import of it once merged.
 */
import { MscrError } from '../../connectors/errors.ts';

export interface CsvLimits {
  maxLineLength: number;
  maxLines: number;
}
export const REQUEST_CSV_LIMITS: CsvLimits = { maxLineLength: 64 * 1024, maxLines: 100_000 };
export class CsvLimitExceeded extends MscrError {
  constructor(message: string) {
    super('bad_request', message);
  }
}

export function csvLines(text: string, limits: CsvLimits): string[] {
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  if (lines.length > limits.maxLines) {
    throw new CsvLimitExceeded(`the CSV has more than ${limits.maxLines} lines`);
  }
  return lines.map((line, i) => {
    if (line.length > limits.maxLineLength) {
      throw new CsvLimitExceeded(`line ${i + 1} is longer than ${limits.maxLineLength} characters`);
    }
    return line.endsWith('\r') ? line.slice(0, -1) : line;
  });
}

export function csvCells(line: string): string[] {
  return line.split(',').map((cell) => {
    const trimmed = cell.trim();
    return trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"')
      ? trimmed.slice(1, -1).trim()
      : trimmed;
  });
}

export function parseDecimal(text: string): number | undefined {
  if (text === '' || text.trim() !== text || /[^0-9eE+.-]/.test(text)) return undefined;
  const value = Number(text);
  return Number.isNaN(value) ? undefined : value;
}
