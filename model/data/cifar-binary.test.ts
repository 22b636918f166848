import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { isMscrError } from '../../connectors/errors.ts';
import { CIFAR10_CLASS_NAMES, CIFAR_RECORD_SIZE, loadCifarBinary } from './cifar-binary.ts';
import { loadImageFolder } from './image-folder.ts';
import { sharedData } from '../../tests/shared-data.ts';

const cifar = sharedData('cifar10/');

interface RealImage {
  label: number;
  name: string;
  hwc: Buffer;
}

/** CIFAR-10 binary layout written by hand: label byte, then R, G and B planes of 32x32. */
function toRecords(images: RealImage[]): Buffer {
  const out = Buffer.alloc(images.length * CIFAR_RECORD_SIZE);
  images.forEach(({ label, hwc }, r) => {
    const base = r * CIFAR_RECORD_SIZE;
    out[base] = label;
    for (let p = 0; p < 1024; p++) {
      for (let c = 0; c < 3; c++) out[base + 1 + c * 1024 + p] = hwc[p * 3 + c] as number;
    }
  });
  return out;
}

describe('loadCifarBinary with batches built from the real JPEGs', () => {
  let dir = '';
  const images: RealImage[] = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mscr-cifar-'));
    for (let i = 0; i < 30; i++) {
      const label = i % 10;
      const name = `${CIFAR10_CLASS_NAMES[label]}_${String(Math.floor(i / 10)).padStart(4, '0')}.jpg`;
      images.push({
        label,
        name,
        hwc: await sharp(join(cifar, 'images', name))
          .raw()
          .toBuffer(),
      });
    }
    // Written out of name order, to check numeric batch ordering (2 before 10).
    await writeFile(join(dir, 'data_batch_10.bin'), toRecords(images.slice(20, 30)));
    await writeFile(join(dir, 'data_batch_1.bin'), toRecords(images.slice(0, 12)));
    await writeFile(join(dir, 'data_batch_2.bin'), toRecords(images.slice(12, 20)));
    await writeFile(join(dir, 'test_batch.bin'), toRecords(images.slice(5, 9)));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('a folder loads its training batches in order, converted to HWC', async () => {
    const data = await loadCifarBinary(dir);
    assert.equal(data.count, 30);
    assert.deepEqual([data.height, data.width, data.channels], [32, 32, 3]);
    assert.deepEqual(data.classNames, CIFAR10_CLASS_NAMES);
    assert.deepEqual(
      data.sources.map((s) => s.slice(dir.length + 1)),
      ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_10.bin'],
    );
    images.forEach(({ label, hwc }, i) => {
      assert.equal(data.labels[i], label);
      assert.deepEqual(
        Buffer.from(data.pixels.subarray(i * 3072, (i + 1) * 3072)),
        hwc,
        `image ${i}`,
      );
    });
  });

  test('the same images as an image folder give the same fingerprint', async () => {
    const folder = join(dir, 'as-folder');
    await mkdir(folder);
    const rows = ['filename,label_index,label_name'];
    for (const { name, label } of images) {
      await copyFile(join(cifar, 'images', name), join(folder, name));
      rows.push(`${name},${label},${CIFAR10_CLASS_NAMES[label]}`);
    }
    await writeFile(join(folder, 'labels.csv'), rows.join('\n'));
    const fromJpeg = await loadImageFolder(folder);
    const fromBinary = await loadCifarBinary(dir);
    assert.equal(fromBinary.fingerprint, fromJpeg.fingerprint);
  });

  test('test split, explicit file list, limit, and the same fingerprint as the same pixels', async () => {
    const test = await loadCifarBinary(dir, { split: 'test' });
    assert.equal(test.count, 4);
    assert.deepEqual(Array.from(test.labels), [5, 6, 7, 8]);
    const listed = await loadCifarBinary(
      [join(dir, 'data_batch_1.bin'), `file://${join(dir, 'data_batch_2.bin')}`],
      { limit: 15 },
    );
    assert.equal(listed.count, 15);
    const again = await loadCifarBinary(dir, { limit: 15 });
    assert.equal(listed.fingerprint, again.fingerprint);
    assert.notEqual(listed.fingerprint, test.fingerprint);
  });

  test('batches.meta.txt beside the files gives the class names', async () => {
    const named = await mkdtemp(join(tmpdir(), 'mscr-cifar-meta-'));
    try {
      await writeFile(join(named, 'data_batch_1.bin'), toRecords(images.slice(0, 3)));
      await writeFile(join(named, 'batches.meta.txt'), 'plane\ncar\nbird\n\n');
      const data = await loadCifarBinary(named);
      assert.deepEqual(data.classNames, ['plane', 'car', 'bird']);
      await writeFile(join(named, 'data_batch_1.bin'), toRecords(images.slice(0, 4)));
      await assert.rejects(
        loadCifarBinary(named),
        /record 3 \(byte offset 9219\) has label 3; expected 0\.\.2/,
      );
    } finally {
      await rm(named, { recursive: true, force: true });
    }
  });

  test('wrong size, bad label and missing files are clear errors', async () => {
    const odd = join(dir, 'odd.bin');
    await writeFile(odd, toRecords(images.slice(0, 2)).subarray(0, 5000));
    await assert.rejects(
      loadCifarBinary([odd]),
      (error: unknown) =>
        isMscrError(error, 'bad_data') &&
        /odd\.bin is 5000 bytes, not a positive multiple of the CIFAR-10 record size 3073/.test(
          error.message,
        ),
    );
    const bad = toRecords(images.slice(0, 3));
    bad[2 * CIFAR_RECORD_SIZE] = 10;
    await writeFile(join(dir, 'bad.bin'), bad);
    await assert.rejects(
      loadCifarBinary([join(dir, 'bad.bin')]),
      /bad\.bin: record 2 .* has label 10; expected 0\.\.9/,
    );
    await assert.rejects(
      loadCifarBinary([join(dir, 'data_batch_9.bin')]),
      (error: unknown) =>
        isMscrError(error, 'not_found') && /data_batch_9\.bin does not exist/.test(error.message),
    );
    await assert.rejects(loadCifarBinary(join(dir, 'nothing-here')), (error: unknown) =>
      isMscrError(error, 'not_found'),
    );
    const empty = await mkdtemp(join(tmpdir(), 'mscr-cifar-empty-'));
    await assert.rejects(loadCifarBinary(empty), /has no data_batch_N\.bin files/);
    await rm(empty, { recursive: true, force: true });
  });
});
