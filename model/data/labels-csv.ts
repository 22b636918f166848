/**
 * `labels.csv` of an image folder: header `filename,label_index,label_name`, one image a row.
 * Every problem is an error naming its line; nothing is skipped silently (blank lines aside).
 */
import { MscrError } from '../../connectors/errors.ts';

export const LABELS_FILE = 'labels.csv';
export const LABELS_HEADER = ['filename', 'label_index', 'label_name'] as const;

export interface LabelRow {
  filename: string;
  label: number;
  /** 1-based line number in the file, for error messages. */
  line: number;
}

export interface LabelsTable {
  rows: LabelRow[];
  /** Class index -> name, over every row of the file. */
  classNames: string[];
}

/** Parses and checks the text of a labels file; `where` names it in errors. */
export function parseLabelsCsv(text: string, where: string): LabelsTable {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const header = (lines[0] ?? '').split(',').map((field) => field.trim());
  if (header.join(',') !== LABELS_HEADER.join(',')) {
    throw new MscrError(
      'bad_data',
      `${where}:1: header is ${JSON.stringify(lines[0] ?? '')}; expected ${LABELS_HEADER.join(',')}`,
    );
  }
  const rows: LabelRow[] = [];
  const names = new Map<number, { name: string; line: number }>();
  lines.slice(1).forEach((text, i) => {
    const line = i + 2;
    if (text.trim() === '') return;
    const fields = text.split(',').map((field) => field.trim());
    if (fields.length !== 3) {
      throw new MscrError(
        'bad_data',
        `${where}:${line}: ${fields.length} fields; expected 3 (${LABELS_HEADER.join(',')}): ${JSON.stringify(text)}`,
      );
    }
    const [filename, index, name] = fields as [string, string, string];
    if (filename === '') throw new MscrError('bad_data', `${where}:${line}: empty filename`);
    if (!/^\d{1,9}$/.test(index)) {
      throw new MscrError(
        'bad_data',
        `${where}:${line}: label_index ${JSON.stringify(index)} is not a non-negative integer`,
      );
    }
    if (name === '') throw new MscrError('bad_data', `${where}:${line}: empty label_name`);
    const label = Number(index);
    const known = names.get(label);
    if (known === undefined) {
      names.set(label, { name, line });
    } else if (known.name !== name) {
      throw new MscrError(
        'bad_data',
        `${where}:${line}: class ${label} is named ${JSON.stringify(name)} here but ${JSON.stringify(known.name)} on line ${known.line}`,
      );
    }
    rows.push({ filename, label, line });
  });
  if (rows.length === 0) throw new MscrError('bad_data', `${where}: no rows after the header`);

  const classCount = Math.max(...names.keys()) + 1;
  const classNames: string[] = [];
  for (let label = 0; label < classCount; label++) {
    const entry = names.get(label);
    if (entry === undefined) {
      throw new MscrError(
        'bad_data',
        `${where}: class indices must be 0..${classCount - 1} without gaps, but no row has label_index ${label}`,
      );
    }
    classNames.push(entry.name);
  }
  const seen = new Map<string, number>();
  classNames.forEach((name, label) => {
    const other = seen.get(name);
    if (other !== undefined) {
      throw new MscrError(
        'bad_data',
        `${where}: classes ${other} and ${label} have the same name ${JSON.stringify(name)}`,
      );
    }
    seen.set(name, label);
  });
  return { rows, classNames };
}
