import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadImageFolder } from './image-folder.ts';
import { loadNumericCsv } from './numeric-csv.ts';
import { splitChronological, splitStratified } from './split.ts';
import { syntheticPrices } from './synthetic.ts';
import { sharedData } from '../../tests/shared-data.ts';

const cifar = sharedData('cifar10/');
const goog = sharedData('stock/goog_daily.csv');

/** Each image's pixels as a string, to identify images across datasets. */
function imageKeys(data: { pixels: Uint8Array; count: number }): string[] {
  const size = data.pixels.length / data.count;
  return Array.from({ length: data.count }, (_, i) =>
    Buffer.from(data.pixels.subarray(i * size, (i + 1) * size)).toString('base64'),
  );
}

test('splitStratified on the real test images: proportional per class, disjoint, deterministic', async () => {
  const data = await loadImageFolder(cifar);
  const { train, test: held } = splitStratified(data, 0.2, 42);
  assert.equal(train.count, 160);
  assert.equal(held.count, 40);
  for (let label = 0; label < 10; label++) {
    assert.equal(held.labels.filter((l) => l === label).length, 4);
  }
  const all = new Set(imageKeys(data));
  const trainKeys = imageKeys(train);
  const testKeys = imageKeys(held);
  assert.equal(new Set([...trainKeys, ...testKeys]).size, 200);
  assert.ok([...trainKeys, ...testKeys].every((key) => all.has(key)));
  // Labels travel with their images.
  const labelOf = new Map(imageKeys(data).map((key, i) => [key, data.labels[i]]));
  testKeys.forEach((key, i) => assert.equal(held.labels[i], labelOf.get(key)));

  const again = splitStratified(data, 0.2, 42);
  assert.equal(again.test.fingerprint, held.fingerprint);
  assert.notEqual(splitStratified(data, 0.2, 43).test.fingerprint, held.fingerprint);
  assert.notEqual(held.fingerprint, data.fingerprint);
  assert.throws(() => splitStratified(data, 1, 1), /between 0 and 1/);
});

test('splitChronological holds out the most recent rows, with optional context overlap', async () => {
  const table = await loadNumericCsv(goog);
  const { train, test: held } = splitChronological(table, 0.2);
  assert.equal(held.rows.length, 146);
  assert.equal(train.rows.length, 586);
  assert.deepEqual(train.rows[0], table.rows[0]);
  assert.deepEqual(held.rows[145], table.rows[731]);
  assert.deepEqual(held.rows[0], table.rows[586]);
  const withContext = splitChronological(table, 0.2, { overlap: 7 });
  assert.equal(withContext.test.rows.length, 153);
  assert.deepEqual(withContext.test.rows[0], table.rows[579]);
  assert.throws(
    () => splitChronological(syntheticPrices({ days: 2 }), 0.1),
    /one part would be empty/,
  );
});
