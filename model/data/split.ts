/** Train/test splits: stratified for images, chronological (held-out tail) for series. */
import { MscrError } from '../../connectors/errors.ts';
import { fingerprintImages, fingerprintTable } from './fingerprint.ts';
import { createRandom, shuffleInPlace } from './random.ts';
import type { ImageDataset, NumericTable } from './types.ts';

export interface Split<T> {
  train: T;
  test: T;
}

function checkFraction(testFraction: number): void {
  if (!(testFraction > 0 && testFraction < 1)) {
    throw new MscrError('config', `test fraction must be between 0 and 1, got ${testFraction}`);
  }
}

/** The images at `indices`, in that order, with a fingerprint of their own. */
export function subsetImages(dataset: ImageDataset, indices: readonly number[]): ImageDataset {
  const size = dataset.height * dataset.width * dataset.channels;
  const pixels = new Uint8Array(indices.length * size);
  const labels = new Int32Array(indices.length);
  indices.forEach((index, i) => {
    if (!Number.isInteger(index) || index < 0 || index >= dataset.count) {
      throw new MscrError('internal', `image index ${index} is outside 0..${dataset.count - 1}`);
    }
    pixels.set(dataset.pixels.subarray(index * size, (index + 1) * size), i * size);
    labels[i] = dataset.labels[index] as number;
  });
  const data = { ...dataset, pixels, labels, count: indices.length };
  return { ...data, sources: [...dataset.sources], fingerprint: fingerprintImages(data) };
}

/**
 * Splits each class in proportion (`round(classCount * testFraction)` to test), choosing
 * which images with a shuffle seeded by `seed`. Both parts keep the dataset's order.
 */
export function splitStratified(
  dataset: ImageDataset,
  testFraction: number,
  seed: number,
): Split<ImageDataset> {
  checkFraction(testFraction);
  const random = createRandom(seed);
  const byClass = new Map<number, number[]>();
  dataset.labels.forEach((label, i) => {
    const members = byClass.get(label) ?? [];
    members.push(i);
    byClass.set(label, members);
  });
  const isTest = new Uint8Array(dataset.count);
  for (const label of [...byClass.keys()].sort((a, b) => a - b)) {
    const members = shuffleInPlace(byClass.get(label) ?? [], random);
    const testCount = Math.round(members.length * testFraction);
    for (const index of members.slice(0, testCount)) isTest[index] = 1;
  }
  const train: number[] = [];
  const test: number[] = [];
  isTest.forEach((flag, i) => (flag === 1 ? test : train).push(i));
  if (train.length === 0 || test.length === 0) {
    throw new MscrError(
      'bad_data',
      `cannot split ${dataset.count} images with test fraction ${testFraction}: one part would be empty`,
    );
  }
  return { train: subsetImages(dataset, train), test: subsetImages(dataset, test) };
}

function tableOf(table: NumericTable, rows: number[][]): NumericTable {
  const columns = [...table.columns];
  return {
    kind: 'table',
    columns,
    rows,
    sources: [...table.sources],
    fingerprint: fingerprintTable({ columns, rows }),
  };
}

/**
 * Holds out the last `round(rows * testFraction)` rows (the most recent) as the test part.
 * `overlap` also puts that many of the last training rows at the start of the test part, as
 * context, so that with `overlap = window` every test row can be a forecast target.
 */
export function splitChronological(
  table: NumericTable,
  testFraction: number,
  options: { overlap?: number } = {},
): Split<NumericTable> {
  checkFraction(testFraction);
  const n = table.rows.length;
  const testCount = Math.round(n * testFraction);
  if (testCount === 0 || testCount === n) {
    throw new MscrError(
      'bad_data',
      `cannot split ${n} rows with test fraction ${testFraction}: one part would be empty`,
    );
  }
  const cut = n - testCount;
  const overlap = options.overlap ?? 0;
  if (!Number.isInteger(overlap) || overlap < 0 || overlap > cut) {
    throw new MscrError('config', `overlap must be an integer in 0..${cut}, got ${overlap}`);
  }
  const copy = (rows: number[][]): number[][] => rows.map((row) => [...row]);
  return {
    train: tableOf(table, copy(table.rows.slice(0, cut))),
    test: tableOf(table, copy(table.rows.slice(cut - overlap))),
  };
}
