import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadImageFolder } from './image-folder.ts';
import { loadNumericCsv } from './numeric-csv.ts';
import { splitStratified } from './split.ts';
import { PRICE_COLUMNS, syntheticImages, syntheticPrices } from './synthetic.ts';
import type { ImageDataset } from './types.ts';
import { writeImageFolder, writeNumericCsv } from './writers.ts';

/** Accuracy of a nearest-class-mean classifier trained on `train`, scored on `test`. */
function nearestMeanAccuracy(train: ImageDataset, test: ImageDataset): number {
  const size = train.height * train.width * train.channels;
  const classes = train.classNames.length;
  const sums = Array.from({ length: classes }, () => new Float64Array(size));
  const counts = new Array<number>(classes).fill(0);
  train.labels.forEach((label, i) => {
    const sum = sums[label] as Float64Array;
    for (let p = 0; p < size; p++)
      sum[p] = (sum[p] as number) + (train.pixels[i * size + p] as number);
    counts[label] = (counts[label] as number) + 1;
  });
  let correct = 0;
  test.labels.forEach((label, i) => {
    let best = -1;
    let bestDistance = Number.POSITIVE_INFINITY;
    sums.forEach((sum, k) => {
      let distance = 0;
      for (let p = 0; p < size; p++) {
        const d =
          (test.pixels[i * size + p] as number) - (sum[p] as number) / (counts[k] as number);
        distance += d * d;
      }
      if (distance < bestDistance) [best, bestDistance] = [k, distance];
    });
    if (best === label) correct++;
  });
  return correct / test.count;
}

describe('syntheticImages', () => {
  test('deterministic per seed, balanced, named classes', () => {
    const a = syntheticImages({ count: 50, classes: 5, seed: 7 });
    const b = syntheticImages({ count: 50, classes: 5, seed: 7 });
    const c = syntheticImages({ count: 50, classes: 5, seed: 8 });
    assert.equal(a.fingerprint, b.fingerprint);
    assert.deepEqual(a.pixels, b.pixels);
    assert.notEqual(a.fingerprint, c.fingerprint);
    assert.deepEqual([a.count, a.height, a.width, a.channels], [50, 32, 32, 3]);
    assert.deepEqual(a.classNames, [
      'red-square',
      'green-disc',
      'blue-hstripes',
      'yellow-vstripes',
      'cyan-cross',
    ]);
    assert.deepEqual(Array.from(a.labels.slice(0, 6)), [0, 1, 2, 3, 4, 0]);
    assert.throws(() => syntheticImages({ count: 5, classes: 25 }), /2\.\.24/);
  });

  test('learnable: a nearest-class-mean classifier scores well above chance on held-out images', () => {
    const data = syntheticImages({ count: 400, classes: 10, seed: 3 });
    const { train, test } = splitStratified(data, 0.25, 1);
    const accuracy = nearestMeanAccuracy(train, test);
    assert.ok(accuracy > 0.6, `accuracy ${accuracy}`);
  });
});

describe('writers round-trip through the real loaders', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mscr-synthetic-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('writeImageFolder -> loadImageFolder gives the same pixels and fingerprint', async () => {
    const data = syntheticImages({ count: 24, classes: 4, seed: 11, height: 20, width: 28 });
    const labelsPath = await writeImageFolder(dir, data);
    const text = await readFile(labelsPath, 'utf8');
    assert.match(
      text,
      /^filename,label_index,label_name\nimages\/red-square_0000\.png,0,red-square\n/,
    );
    const loaded = await loadImageFolder(dir);
    assert.deepEqual(loaded.pixels, data.pixels);
    assert.deepEqual(loaded.labels, data.labels);
    assert.deepEqual(loaded.classNames, data.classNames);
    assert.equal(loaded.fingerprint, data.fingerprint);
  });

  test('syntheticPrices: a valid OHLC random walk that round-trips through CSV', async () => {
    const prices = syntheticPrices({ days: 300, seed: 5 });
    assert.deepEqual(prices.columns, PRICE_COLUMNS);
    assert.equal(prices.rows.length, 300);
    for (const [open, high, low, volume, close] of prices.rows as [
      number,
      number,
      number,
      number,
      number,
    ][]) {
      assert.ok(low > 0 && low <= Math.min(open, close) && high >= Math.max(open, close));
      assert.ok(Number.isInteger(volume) && volume > 0);
    }
    assert.equal(syntheticPrices({ days: 300, seed: 5 }).fingerprint, prices.fingerprint);
    assert.notEqual(syntheticPrices({ days: 300, seed: 6 }).fingerprint, prices.fingerprint);
    const path = join(dir, 'prices.csv');
    await writeNumericCsv(path, prices);
    const loaded = await loadNumericCsv(path, { order: 'oldest-first' });
    assert.deepEqual(loaded.rows, prices.rows);
    assert.equal(loaded.fingerprint, prices.fingerprint);
  });
});
