/**
 * MS connector: applying a manifest's `PreprocessingSpec`.
 *
 * Training (model/features) and serving both call these functions, so a served model sees
 * exactly the numbers it was trained on: there is no second copy of this math anywhere.
 * Plain arrays only (no TensorFlow.js import), so the client, the service and workers can use
 * it anywhere.
 *
 * Bad input (wrong sizes, non-numbers) is a caller's mistake: `MscrError('bad_request')`.
 */
import { MscrError } from '../errors.ts';
import type { ImagePreprocessing, SeriesPreprocessing, TabularPreprocessing } from './manifest.ts';

type ScaledSpec = SeriesPreprocessing | TabularPreprocessing;

/** Values per image: height * width * channels. */
export function imageSize(spec: ImagePreprocessing): number {
  return spec.height * spec.width * spec.channels;
}

/**
 * Raw pixels (0..255, HWC row-major; one image or several back to back) -> the model's
 * float input: `x * scale` (scale 1/255 unless the spec says otherwise), then
 * `(x - mean[c]) / std[c]` for `standardize`; images of an `NCHW` spec are transposed to
 * channels first.
 */
export function imagePixelsToInput(pixels: Uint8Array, spec: ImagePreprocessing): Float32Array {
  const size = imageSize(spec);
  if (pixels.length === 0 || pixels.length % size !== 0) {
    throw new MscrError(
      'bad_request',
      `image input has ${pixels.length} values; expected a multiple of ${size} (${spec.height}x${spec.width}x${spec.channels})`,
    );
  }
  const out = new Float32Array(pixels.length);
  const norm = spec.normalization;
  const scale = spec.scale ?? 1 / 255;
  const channels = spec.channels;
  const mean = norm.type === 'standardize' ? Float64Array.from(norm.mean) : undefined;
  const std = norm.type === 'standardize' ? Float64Array.from(norm.std) : undefined;
  if (mean !== undefined && std !== undefined) {
    if (mean.length !== channels || std.length !== channels) {
      throw new MscrError(
        'bad_request',
        `standardize needs one mean and std per channel (${channels}), got ${mean.length} and ${std.length}`,
      );
    }
  }
  // Keeps the exact arithmetic of the original `x / 255` for the default scale.
  const value = spec.scale === undefined ? (p: number) => p / 255 : (p: number) => p * scale;
  const nchw = spec.layout === 'NCHW';
  const plane = spec.height * spec.width;
  for (let i = 0; i < pixels.length; i++) {
    const c = i % channels;
    let x = value(pixels[i] as number);
    if (mean !== undefined && std !== undefined) x = (x - (mean[c] as number)) / (std[c] as number);
    if (nchw) {
      // i = image * size + pixel * channels + c  ->  image * size + c * plane + pixel
      const image = Math.floor(i / size);
      const pixel = Math.floor((i % size) / channels);
      out[image * size + c * plane + pixel] = x;
    } else out[i] = x;
  }
  return out;
}

/** Divisor of a min-max column: the range, or 1 for a constant column (no divide by zero). */
function columnRange(min: number, max: number): number {
  const range = max - min;
  return range > 0 ? range : 1;
}

function checkRow(row: unknown, columns: string[], where: string): number[] {
  if (!Array.isArray(row) || row.length !== columns.length) {
    const got = Array.isArray(row) ? `${row.length} values` : typeof row;
    throw new MscrError(
      'bad_request',
      `${where} has ${got}; expected ${columns.length} (${columns.join(', ')})`,
    );
  }
  row.forEach((value: unknown, c) => {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new MscrError(
        'bad_request',
        `${where}, column ${columns[c]}: ${JSON.stringify(value)} is not a finite number`,
      );
    }
  });
  return row as number[];
}

/**
 * Min-max scales rows given in `spec.columns` order: `(x - min) / (max - min)`; a constant
 * column (max == min) scales to `x - min`. Values outside the fitted range go outside [0, 1].
 */
export function scaleRows(rows: number[][], spec: ScaledSpec): number[][] {
  const { min, max } = spec.scaler;
  return rows.map((row, r) =>
    checkRow(row, spec.columns, `row ${r}`).map((x, c) => {
      const lo = min[c] as number;
      return (x - lo) / columnRange(lo, max[c] as number);
    }),
  );
}

function targetIndex(spec: ScaledSpec): number {
  const index = spec.columns.indexOf(spec.target);
  if (index < 0) {
    throw new MscrError(
      'bad_request',
      `target ${spec.target} is not one of the columns ${spec.columns.join(', ')}`,
    );
  }
  return index;
}

/** A target value in original units -> the scaled value the model is trained on. */
export function scaleTarget(value: number, spec: ScaledSpec): number {
  const t = targetIndex(spec);
  const lo = spec.scaler.min[t] as number;
  return (value - lo) / columnRange(lo, spec.scaler.max[t] as number);
}

/** A model output (scaled target) -> original units, e.g. a price. */
export function unscaleTarget(value: number, spec: ScaledSpec): number {
  const t = targetIndex(spec);
  const lo = spec.scaler.min[t] as number;
  return value * columnRange(lo, spec.scaler.max[t] as number) + lo;
}

/**
 * One input window: exactly `spec.window` raw rows (oldest first) of `spec.columns.length`
 * values each -> scaled, flattened row-major `[window, columns]`.
 */
export function seriesRowsToInput(rows: number[][], spec: SeriesPreprocessing): Float32Array {
  if (!Array.isArray(rows) || rows.length !== spec.window) {
    const got = Array.isArray(rows) ? rows.length : 0;
    throw new MscrError(
      'bad_request',
      `series input has ${got} rows; expected a window of ${spec.window} rows (oldest first)`,
    );
  }
  return Float32Array.from(scaleRows(rows, spec).flat());
}

/** One row of `spec.columns` values -> scaled model input. */
export function tabularRowToInput(row: number[], spec: TabularPreprocessing): Float32Array {
  const scaled = scaleRows([row], spec)[0] as number[];
  return Float32Array.from(scaled);
}
