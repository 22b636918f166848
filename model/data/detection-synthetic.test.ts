import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import sharp from 'sharp';
import { loadCoco } from './coco.ts';
import { loadDetections } from './detection-folder.ts';
import { syntheticDetections, writeCocoDetection, type cocoJson } from './detection-synthetic.ts';
import { countObjects } from './detection-types.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

test('generated detection images: 1-4 shapes each, tight boxes inside the image, little overlap, repeatable', async () => {
  const a = await syntheticDetections({ count: 40, seed: 5 });
  const b = await syntheticDetections({ count: 40, seed: 5 });
  const c = await syntheticDetections({ count: 40, seed: 6 });
  assert.equal(a.fingerprint, b.fingerprint);
  assert.notEqual(a.fingerprint, c.fingerprint);
  assert.deepEqual(a.classNames, ['circle', 'square', 'triangle']);
  const perClass = [0, 0, 0];
  for (const image of a.images) {
    assert.ok(image.objects.length >= 1 && image.objects.length <= 4, image.name);
    assert.equal(image.width, 64);
    for (const { box, category } of image.objects) {
      const [x, y, w, h] = box;
      assert.ok(x >= 0 && y >= 0 && x + w <= 64 && y + h <= 64, `${image.name}: ${box.join(',')}`);
      assert.ok(w >= 8 && h >= 8, `boxes are at least 8 pixels: ${box.join(',')}`);
      perClass[category] = (perClass[category] as number) + 1;
    }
    const { data, info } = await sharp(image.bytes).raw().toBuffer({ resolveWithObject: true });
    assert.equal(info.width, 64);
    assert.equal(data.length, 64 * 64 * 3);
  }
  assert.ok(
    perClass.every((n) => n >= 10),
    `every shape appears: ${perClass.join(', ')}`,
  );
  assert.ok(countObjects(a.images) > 60);
});

test('each box holds its shape: the pixel at its centre has the bright colour of an object', async () => {
  const set = await syntheticDetections({ count: 20, seed: 2 });
  for (const image of set.images) {
    const { data } = await sharp(image.bytes).raw().toBuffer({ resolveWithObject: true });
    for (const { box } of image.objects) {
      const [x, y, w, h] = box;
      const at = ((y + Math.floor(h / 2)) * 64 + x + Math.floor(w / 2)) * 3;
      // Objects have HSV value >= 0.75 (191) with noise sd 8; backgrounds at most 0.6 (153).
      const brightest = Math.max(
        data[at] as number,
        data[at + 1] as number,
        data[at + 2] as number,
      );
      assert.ok(brightest >= 150, `${image.name} box ${box.join(',')}: centre ${brightest}`);
    }
  }
});

test('the COCO JSON follows the format and reads back through the COCO loader unchanged', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mscr-detgen-'));
  dirs.push(dir);
  const set = await syntheticDetections({ count: 12, seed: 9, size: 48 });
  const path = await writeCocoDetection(dir, set);
  const json = JSON.parse(await readFile(path, 'utf8')) as ReturnType<typeof cocoJson> & {
    images: { id: number; file_name: string; width: number; height: number }[];
    annotations: {
      id: number;
      image_id: number;
      category_id: number;
      bbox: number[];
      area: number;
      iscrowd: number;
    }[];
    categories: { id: number; name: string }[];
  };
  assert.deepEqual(
    json.categories.map((c) => [c.id, c.name]),
    [
      [1, 'circle'],
      [2, 'square'],
      [3, 'triangle'],
    ],
  );
  assert.equal(json.images.length, 12);
  assert.deepEqual(json.images[0], { id: 1, file_name: '000001.png', width: 48, height: 48 });
  assert.equal(json.annotations.length, countObjects(set.images));
  assert.deepEqual(
    json.annotations.map((a) => a.id),
    json.annotations.map((_, i) => i + 1),
  );
  for (const a of json.annotations) {
    assert.equal(a.iscrowd, 0);
    assert.equal(a.bbox.length, 4);
    assert.equal(a.area, (a.bbox[2] as number) * (a.bbox[3] as number));
  }
  const loaded = await loadCoco(path);
  assert.deepEqual(loaded.classNames, set.classNames);
  assert.equal(loaded.fingerprint, set.fingerprint);
  const viaFolder = await loadDetections([dir]);
  assert.equal(viaFolder.fingerprint, set.fingerprint);
});

test('generator options out of range are refused', async () => {
  await assert.rejects(syntheticDetections({ count: 0 }), /count must be/);
  await assert.rejects(syntheticDetections({ count: 1, size: 8 }), /size must be/);
  await assert.rejects(syntheticDetections({ count: 1, maxObjects: 0 }), /maxObjects/);
});
