/**
 * mscr's own endpoints, for a person with curl: post an image file and get labels with
 * scores, post a CSV window and get a forecast in the data's own units. The preprocessing is
 * the manifest's, applied by the MS connector's functions: the same math as in training.
 */
import {
  csvCells,
  csvLines,
  CsvLimitExceeded,
  isDecimal,
  REQUEST_CSV_LIMITS,
} from '../../connectors/csv/index.ts';
import { MscrError, isMscrError } from '../../connectors/errors.ts';
import { decodeImage, readImageSize, type ImageSize } from '../../connectors/ms/decode-image.ts';
import type {
  ImagePreprocessing,
  ModelManifest,
  SeriesPreprocessing,
  TabularPreprocessing,
} from '../../connectors/ms/manifest.ts';
import {
  imagePixelsToInput,
  imageSize,
  seriesRowsToInput,
  unscaleTarget,
} from '../../connectors/ms/preprocessing.ts';
import type { ClassifyResponse, ForecastResponse, LabelScore } from '../../connectors/sc/mscr.ts';
import {
  checkImageFormat,
  DEFAULT_IMAGE_POLICY,
  pixelCapFor,
  type ImagePolicy,
} from './image-policy.ts';
import { badRequest, checkOutput, float32ToJson, quote, shapeText } from './tensor.ts';
import type { OutputTensor } from './tensor.ts';

/** The image preprocessing of an image model, or a `bad_request` saying the model is not one. */
export function imageSpecOf(manifest: ModelManifest): ImagePreprocessing {
  const spec = manifest.preprocessing;
  if (spec.kind !== 'image') {
    throw badRequest(
      `model ${quote(manifest.name)} is a ${manifest.task} model, not an image model: it takes ${spec.kind} input, not image files`,
    );
  }
  return spec;
}

/**
 * Image bytes -> the model's float input for one image: checked against the image policy
 * (format by magic bytes, 415 for a request body and 400 inside JSON; a pixel cap from the
 * model's input size), decoded in one of the policy's decode slots, turned upright, resized
 * to the model's size and normalised as in training. Undecodable bytes are a `bad_request`
 * with the decoder's reason.
 */
export async function decodeImageBody(
  bytes: Uint8Array,
  manifest: ModelManifest,
  options: ImageBodyOptions = {},
): Promise<Float32Array> {
  return (await decodeSizedImage(bytes, manifest, options, false)).input;
}

export interface ImageBodyOptions {
  maxInputPixels?: number;
  source?: string;
  policy?: ImagePolicy;
  /** The status of a format the policy refuses: 415 for a request body (default), 400 in JSON. */
  formatStatus?: 400 | 415;
}

/**
 * `decodeImageBody`, also giving the posted image's size (upright, as decoded): the pixels a
 * detector's boxes are answered in.
 */
export async function decodeImageBodyWithSize(
  bytes: Uint8Array,
  manifest: ModelManifest,
  options: ImageBodyOptions = {},
): Promise<{ input: Float32Array; size: ImageSize }> {
  const { input, size } = await decodeSizedImage(bytes, manifest, options, true);
  return { input, size: size as ImageSize };
}

async function decodeSizedImage(
  bytes: Uint8Array,
  manifest: ModelManifest,
  options: ImageBodyOptions,
  withSize: boolean,
): Promise<{ input: Float32Array; size?: ImageSize }> {
  const spec = imageSpecOf(manifest);
  const what = options.source ?? 'the posted image';
  if (bytes.length === 0) {
    throw badRequest(`${what} is empty: send the image file's bytes as the request body`);
  }
  const policy = options.policy ?? DEFAULT_IMAGE_POLICY;
  checkImageFormat(bytes, policy, what, options.formatStatus ?? 415);
  const cap = Math.min(
    pixelCapFor(policy, spec.height, spec.width),
    options.maxInputPixels ?? Number.POSITIVE_INFINITY,
  );
  let pixels: Uint8Array;
  let size: ImageSize | undefined;
  try {
    pixels = await policy.decodes.run(async () => {
      const source = options.source !== undefined ? { source: options.source } : {};
      const decoded = await decodeImage(bytes, {
        height: spec.height,
        width: spec.width,
        channels: spec.channels,
        maxInputPixels: cap,
        ...source,
      });
      // The header only, after the pixels decoded: an upright width and height.
      if (withSize) size = await readImageSize(bytes, { maxInputPixels: cap, ...source });
      return decoded;
    });
  } catch (error) {
    if (isMscrError(error, 'bad_data')) {
      throw badRequest(
        `${oneLine(error.message)}; send a ${[...policy.formats].join(', ')} image of at most ${cap} pixels (it is resized to ${spec.width}x${spec.height})`,
        error,
      );
    }
    throw error;
  }
  const input = imagePixelsToInput(pixels, spec);
  return size === undefined ? { input } : { input, size };
}

/** A decoder's multi-line warnings as one line, each said once, cut to 300 characters. */
function oneLine(message: string): string {
  const parts = [
    ...new Set(
      message
        .split('\n')
        .map((part) => part.trim())
        .filter((part) => part !== ''),
    ),
  ];
  const text = parts.join('; ');
  return text.length > 300 ? `${text.slice(0, 300)}...` : text;
}

/** Parses a `k` (e.g. from `?top=3`): a positive integer; absent means `fallback`. */
export function parseTopK(value: unknown, fallback = 5): number {
  if (value === undefined || value === '') return fallback;
  const k = typeof value === 'string' && /^[0-9]{1,6}$/.test(value) ? Number(value) : value;
  if (typeof k !== 'number' || !Number.isSafeInteger(k) || k < 1) {
    throw badRequest(`top must be a positive integer, got ${quote(String(value))}`);
  }
  return k;
}

/**
 * The `k` most probable classes, best first (ties: the lower class index first). `k` larger
 * than the number of classes returns them all. A class without a label is named by its index.
 */
export function topK(
  probabilities: ArrayLike<number>,
  labels: readonly string[],
  k: number,
): LabelScore[] {
  if (!Number.isSafeInteger(k) || k < 1) {
    throw badRequest(`k must be a positive integer, got ${String(k)}`);
  }
  const order = Array.from({ length: probabilities.length }, (_, i) => i);
  order.sort((a, b) => (probabilities[b] as number) - (probabilities[a] as number) || a - b);
  return order.slice(0, k).map((i) => ({
    label: labels[i] ?? String(i),
    score: float32ToJson(probabilities[i] as number, `score of class ${i}`),
  }));
}

/** A classifier's output `[batch, classes]` -> one top-k list per image, with their prediction ids. */
export function encodeClassifyResponse(
  manifest: ModelManifest,
  version: number,
  output: OutputTensor,
  k: number,
  predictionIds: string[],
): ClassifyResponse {
  checkOutput(output);
  const [batch, classes, extra] = output.shape;
  if (batch === undefined || classes === undefined || extra !== undefined) {
    throw new MscrError(
      'internal',
      `output ${quote(output.name)} has shape ${shapeText(output.shape)}; a classifier's is [batch, classes]`,
    );
  }
  const labels = manifest.labels ?? [];
  const predictions: LabelScore[][] = [];
  for (let b = 0; b < batch; b++) {
    predictions.push(topK(output.data.subarray(b * classes, (b + 1) * classes), labels, k));
  }
  return { model: manifest.name, version, predictions, predictionIds };
}

type ScaledSpec = SeriesPreprocessing | TabularPreprocessing;

function seriesSpecOf(manifest: ModelManifest): SeriesPreprocessing {
  const spec = manifest.preprocessing;
  if (spec.kind !== 'series') {
    throw badRequest(
      `model ${quote(manifest.name)} is a ${manifest.task} model, not a series model: it does not take a CSV window`,
    );
  }
  return spec;
}

function scaledSpecOf(manifest: ModelManifest): ScaledSpec {
  const spec = manifest.preprocessing;
  if (spec.kind !== 'series' && spec.kind !== 'tabular') {
    const what = spec.kind === 'image' ? 'is an image model' : `takes ${spec.kind} input`;
    throw badRequest(
      `model ${quote(manifest.name)} ${what}; it makes no forecast in original units`,
    );
  }
  return spec;
}

/** Row order of a posted CSV. */
export type CsvOrder = 'oldest-first' | 'newest-first';

export function parseCsvOrder(value: unknown): CsvOrder {
  if (value === undefined || value === '' || value === 'oldest-first') return 'oldest-first';
  if (value === 'newest-first') return 'newest-first';
  throw badRequest(
    `order must be oldest-first or newest-first, got ${quote(String(value).slice(0, 64))}`,
  );
}

/** A posted CSV's lines, its size limits checked before any cell is parsed (a 400 when broken). */
export function requestCsvLines(text: string): string[] {
  try {
    return csvLines(text, REQUEST_CSV_LIMITS);
  } catch (error) {
    if (error instanceof CsvLimitExceeded) throw badRequest(error.message);
    throw error;
  }
}

/**
 * A CSV window for a series model -> its input, scaled as in training (`[window, columns]`
 * row-major).
 *
 * - One row per time step, comma-separated, `#` lines are comments, blank lines are skipped,
 *   CRLF or LF.
 * - Columns in the manifest's order (`Open,High,Low,Volume,Close`), or a header row naming
 *   them: then columns are picked by name, in any order, and other columns (a `Date`) are
 *   ignored.
 * - Exactly `window` rows, or more: then the newest `window` are used. Rows are oldest first
 *   by default (the last rows are the newest); `newest-first` reads files such as Yahoo's
 *   GOOG export, whose first row is the newest.
 * - Every used cell must be a number; errors name the line (1-based, as an editor shows it)
 *   and the column.
 */
export function decodeCsvWindow(
  text: string,
  manifest: ModelManifest,
  options: { order?: CsvOrder } = {},
): Float32Array {
  return readCsvWindow(text, manifest, options).input;
}

/** `decodeCsvWindow`, also giving the window's rows as read (oldest first, original units). */
export function readCsvWindow(
  text: string,
  manifest: ModelManifest,
  options: { order?: CsvOrder } = {},
): { rows: number[][]; input: Float32Array } {
  const spec = seriesSpecOf(manifest);
  const order = options.order ?? 'oldest-first';
  const lines = requestCsvLines(text);
  let picks: number[] | undefined; // file column of each manifest column
  let fieldCount: number | undefined;
  const rows: { line: number; values: number[] }[] = [];

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const lineNo = i + 1;
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const fields = csvCells(line);
    if (fieldCount === undefined) {
      fieldCount = fields.length;
      if (fields.some((cell) => !isDecimal(cell))) {
        picks = headerPicks(fields, spec, lineNo);
        continue;
      }
      if (fields.length !== spec.columns.length) {
        throw badRequest(
          `line ${lineNo} has ${fields.length} fields; the model needs ${spec.columns.length} columns (${spec.columns.join(',')}) in this order, or a header row naming them`,
        );
      }
    }
    if (fields.length !== fieldCount) {
      throw badRequest(`line ${lineNo} has ${fields.length} fields; expected ${fieldCount}`);
    }
    const values = spec.columns.map((column, c) => {
      const cell = fields[picks === undefined ? c : (picks[c] as number)] as string;
      if (!isDecimal(cell)) {
        throw badRequest(
          `line ${lineNo}, column ${column}: ${cell === '' ? 'the cell is empty' : `${JSON.stringify(cell.slice(0, 32))} is not a number`}`,
        );
      }
      const value = Number(cell);
      if (!Number.isFinite(value)) {
        throw badRequest(`line ${lineNo}, column ${column}: ${cell.slice(0, 32)} is out of range`);
      }
      return value;
    });
    rows.push({ line: lineNo, values });
  }

  if (rows.length < spec.window) {
    throw badRequest(
      `the CSV has ${rows.length} data row${rows.length === 1 ? '' : 's'}; the model needs a window of ${spec.window} rows (${spec.columns.join(',')}), ${order === 'oldest-first' ? 'oldest first' : 'newest first'}`,
    );
  }
  const window =
    order === 'oldest-first'
      ? rows.slice(rows.length - spec.window)
      : rows.slice(0, spec.window).reverse();
  const values = window.map((row) => row.values);
  return { rows: values, input: seriesRowsToInput(values, spec) };
}

function headerPicks(fields: string[], spec: SeriesPreprocessing, lineNo: number): number[] {
  const missing = spec.columns.filter((column) => !fields.includes(column));
  if (missing.length > 0) {
    throw badRequest(
      `line ${lineNo} looks like a header (${fields.slice(0, 8).join(',').slice(0, 120)}) but has no column ${missing.join(', ')}; the model needs ${spec.columns.join(',')}`,
    );
  }
  for (const column of spec.columns) {
    if (fields.indexOf(column) !== fields.lastIndexOf(column)) {
      throw badRequest(`line ${lineNo}: the header names column ${column} twice`);
    }
  }
  return spec.columns.map((column) => fields.indexOf(column));
}

/** A model output (scaled target) -> original units, e.g. a price. */
export function forecastFromOutput(value: number, manifest: ModelManifest): number {
  if (!Number.isFinite(value)) {
    throw new MscrError('internal', `model output ${value} is not a finite number`);
  }
  const kind = manifest.preprocessing.kind;
  // Imported models scale inside the graph: their output is in the data's units already.
  if (kind === 'features' || kind === 'none') return value;
  return unscaleTarget(value, scaledSpecOf(manifest));
}

/** A forecaster's output `[batch, 1]` -> `ForecastResponse` in original units, with prediction ids. */
export function encodeForecastResponse(
  manifest: ModelManifest,
  version: number,
  output: OutputTensor,
  predictionIds: string[],
): ForecastResponse {
  checkOutput(output);
  const spec = scaledSpecOf(manifest);
  const [batch, width] = output.shape;
  if (
    batch === undefined ||
    (output.shape.length === 2 && width !== 1) ||
    output.shape.length > 2
  ) {
    throw new MscrError(
      'internal',
      `output ${quote(output.name)} has shape ${shapeText(output.shape)}; a forecaster's is [batch, 1]`,
    );
  }
  return {
    model: manifest.name,
    version,
    target: spec.target,
    forecast: Array.from(output.data, (v) => forecastFromOutput(v, manifest)),
    predictionIds,
  };
}

/** Values per image of an image model (for callers that batch several posted images). */
export function imageInputSize(manifest: ModelManifest): number {
  return imageSize(imageSpecOf(manifest));
}
