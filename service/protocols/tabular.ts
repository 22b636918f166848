/**
 * `POST /mscr/models/{m}[/versions/{v}]/predict` for tabular models: rows of named features in,
 * a class with its probabilities (classifiers) or a value (regressors) per row out.
 *
 * - JSON `{"rows": [{"feature": number, ...}, ...]}`: every feature of the model in every row,
 *   no other keys (a misspelt feature name is an error, not a silent zero).
 * - CSV with a header row naming the features (any order; other columns, such as the target,
 *   are ignored), one row per line; `Content-Type: text/csv`, or any body not starting `{`.
 *
 * Features go to the model as they are: an imported model (`features` preprocessing) does its
 * own scaling. Every problem with the input is a `bad_request` naming the row and feature.
 */
import { MscrError } from '../../connectors/errors.ts';
import type { ModelManifest } from '../../connectors/ms/manifest.ts';
import type { TabularPrediction, TabularResponse } from '../../connectors/sc/mscr.ts';
import { badRequest, checkOutput, float32ToJson, quote, shapeText } from './tensor.ts';
import type { OutputTensor } from './tensor.ts';
import { csvCells, parseDecimal } from '../../connectors/csv/index.ts';
import { requestCsvLines } from './convenience.ts';

/** The feature names of a tabular model, in input column order. */
export function featuresOf(manifest: ModelManifest): string[] {
  const spec = manifest.preprocessing;
  if (spec.kind !== 'features') {
    throw badRequest(
      `model ${quote(manifest.name)} is a ${manifest.task} model that takes ${spec.kind} input, not rows of named features; use ${spec.kind === 'image' ? 'classify' : spec.kind === 'series' ? 'forecast' : 'the V1 or V2 API'}`,
    );
  }
  return spec.columns;
}

export interface TabularLimits {
  /** Most tensor elements (rows x features) in one request. */
  maxElements: number;
  /** Most rows in one request. */
  maxBatch: number;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `{"rows": [...]}` -> the model input, `[rows, features]` row-major. */
export function decodeRowsJson(
  body: unknown,
  manifest: ModelManifest,
  limits: TabularLimits,
): { input: Float32Array; rows: number } {
  const features = featuresOf(manifest);
  if (!isObject(body) || !Array.isArray(body.rows)) {
    throw badRequest(
      `send {"rows": [{${features
        .slice(0, 3)
        .map((f) => `${JSON.stringify(f)}: number`)
        .join(', ')}${features.length > 3 ? ', ...' : ''}}]}, or a CSV with a header row`,
    );
  }
  for (const key of Object.keys(body)) {
    if (key !== 'rows') throw badRequest(`unknown field ${quote(key)}; the body has only "rows"`);
  }
  const rows: unknown[] = body.rows;
  checkCount(rows.length, features.length, limits);
  const input = new Float32Array(rows.length * features.length);
  const index = new Map(features.map((f, i) => [f, i]));
  rows.forEach((row, r) => {
    if (!isObject(row)) throw badRequest(`rows[${r}] must be an object of feature: number`);
    let seen = 0;
    for (const [key, value] of Object.entries(row)) {
      const column = index.get(key);
      if (column === undefined) {
        throw badRequest(
          `rows[${r}] has unknown feature ${quote(key)}; the model takes ${list(features)}`,
        );
      }
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw badRequest(
          `rows[${r}].${key}: ${quote(JSON.stringify(value) ?? String(value))} is not a finite number`,
        );
      }
      input[r * features.length + column] = value;
      seen++;
    }
    if (seen !== features.length) {
      const missing = features.filter((f) => !Object.hasOwn(row, f));
      throw badRequest(`rows[${r}] lacks ${list(missing)}`);
    }
  });
  return { input, rows: rows.length };
}

/** A CSV with a header -> the model input, `[rows, features]` row-major. */
export function decodeRowsCsv(
  text: string,
  manifest: ModelManifest,
  limits: TabularLimits,
): { input: Float32Array; rows: number } {
  const features = featuresOf(manifest);
  const lines = requestCsvLines(text);
  let picks: number[] | undefined;
  let width = 0;
  const values: number[] = [];
  let rows = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const cells = csvCells(line);
    if (picks === undefined) {
      const missing = features.filter((f) => !cells.includes(f));
      if (missing.length > 0) {
        throw badRequest(
          `line ${i + 1} must be a header row naming the features; it lacks ${list(missing)}`,
        );
      }
      for (const f of features) {
        if (cells.indexOf(f) !== cells.lastIndexOf(f)) {
          throw badRequest(`line ${i + 1}: the header names ${quote(f)} twice`);
        }
      }
      picks = features.map((f) => cells.indexOf(f));
      width = cells.length;
      continue;
    }
    if (cells.length !== width) {
      throw badRequest(`line ${i + 1} has ${cells.length} fields; the header has ${width}`);
    }
    rows++;
    checkCount(rows, features.length, limits);
    picks.forEach((column, f) => {
      const cell = cells[column] as string;
      const value = parseDecimal(cell);
      if (value === undefined || !Number.isFinite(value)) {
        throw badRequest(
          `line ${i + 1}, feature ${quote(features[f] as string)}: ${cell === '' ? 'the cell is empty' : `${quote(cell.slice(0, 32))} is not a number`}`,
        );
      }
      values.push(value);
    });
  }
  if (picks === undefined)
    throw badRequest(
      `the CSV is empty; send a header row naming ${list(features)}, then one row per prediction`,
    );
  if (rows === 0) throw badRequest('the CSV has a header but no data rows');
  return { input: Float32Array.from(values), rows };
}

function checkCount(rows: number, features: number, limits: TabularLimits): void {
  if (rows === 0) throw badRequest('rows is empty: send at least one row');
  if (rows > limits.maxBatch) {
    throw new MscrError(
      'payload_too_large',
      `more than ${limits.maxBatch} rows in one request; send at most ${limits.maxBatch}`,
    );
  }
  if (rows * features > limits.maxElements) {
    throw new MscrError(
      'payload_too_large',
      `${rows} rows of ${features} features exceed the limit of ${limits.maxElements} values per request`,
    );
  }
}

function list(names: string[]): string {
  const shown = names
    .slice(0, 8)
    .map((n) => JSON.stringify(n))
    .join(', ');
  return names.length > 8 ? `${shown} and ${names.length - 8} more` : shown;
}

/** Whether the served output is class probabilities (`[batch, classes]` with labels). */
function isClassifier(manifest: ModelManifest): boolean {
  return manifest.task === 'tabular-classification' || manifest.task === 'image-classification';
}

/** The model's output -> one prediction per row. */
export function encodeTabularResponse(
  manifest: ModelManifest,
  version: number,
  output: OutputTensor,
  predictionIds: string[],
): TabularResponse {
  checkOutput(output);
  const [batch, width = 1] = output.shape;
  if (batch === undefined || output.shape.length > 2) {
    throw new MscrError(
      'internal',
      `output ${quote(output.name)} has shape ${shapeText(output.shape)}; a tabular model's is [batch] or [batch, n]`,
    );
  }
  const labels = manifest.labels ?? [];
  const predictions: TabularPrediction[] = [];
  for (let b = 0; b < batch; b++) {
    const row = output.data.subarray(b * width, (b + 1) * width);
    if (isClassifier(manifest)) {
      let best = 0;
      for (let c = 1; c < width; c++) if ((row[c] as number) > (row[best] as number)) best = c;
      const probabilities: Record<string, number> = {};
      row.forEach((p, c) => {
        probabilities[labels[c] ?? String(c)] = float32ToJson(p, `probability of class ${c}`);
      });
      predictions.push({ label: labels[best] ?? String(best), probabilities });
    } else if (width === 1) {
      predictions.push({ value: float32ToJson(row[0] as number, `row ${b}`) });
    } else {
      predictions.push({ values: Array.from(row, (v) => float32ToJson(v, `row ${b}`)) });
    }
  }
  return { model: manifest.name, version, predictions, predictionIds };
}
