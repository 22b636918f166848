import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import {
  createRandom,
  loadImageFolder,
  syntheticImages,
  type ImageDataset,
} from '../data/index.ts';
import {
  augmentationFromNames,
  composeAugmentations,
  flip,
  rescale,
  shift,
  toImageTensor,
} from './index.ts';
import { sharedData } from '../../tests/shared-data.ts';

const cifar = sharedData('cifar10/');

async function batchOf(count: number): Promise<tf.Tensor4D> {
  const data: ImageDataset = existsSync(cifar)
    ? await loadImageFolder(cifar, { limit: count })
    : syntheticImages({ count, classes: 4 });
  return toImageTensor(data, rescale.fit(data));
}

/** Image i of a batch as nested arrays [H][W][C]. */
const image = (batch: tf.Tensor4D, i: number): number[][][] =>
  tf.tidy(
    () => batch.slice([i, 0, 0, 0], [1, -1, -1, -1]).squeeze([0]).arraySync() as number[][][],
  );

/** The offset (dy, dx) that turns `source` into `shifted`, with `pad` for uncovered pixels. */
function findShift(
  source: number[][][],
  shifted: number[][][],
  k: number,
  pad: 'zero' | 'edge',
): [number, number] | undefined {
  const h = source.length;
  const w = source[0]?.length ?? 0;
  for (let dy = -k; dy <= k; dy++) {
    for (let dx = -k; dx <= k; dx++) {
      let same = true;
      for (let y = 0; y < h && same; y++) {
        for (let x = 0; x < w && same; x++) {
          let sy = y - dy;
          let sx = x - dx;
          const outside = sy < 0 || sy >= h || sx < 0 || sx >= w;
          sy = Math.min(h - 1, Math.max(0, sy));
          sx = Math.min(w - 1, Math.max(0, sx));
          const expected = outside && pad === 'zero' ? [0, 0, 0] : source[sy]?.[sx];
          same = JSON.stringify(shifted[y]?.[x]) === JSON.stringify(expected);
        }
      }
      if (same) return [dy, dx];
    }
  }
  return undefined;
}

describe('augmentation on real image batches', () => {
  test('flip with p=1 mirrors every image, p=0 none; random flips are per image', async () => {
    const batch = await batchOf(16);
    const mirrored = tf.reverse(batch, 2);
    const all = flip(1).apply(batch, createRandom(1));
    assert.deepEqual(all.arraySync(), mirrored.arraySync());
    const none = flip(0).apply(batch, createRandom(1));
    assert.deepEqual(none.arraySync(), batch.arraySync());
    const some = flip(0.5).apply(batch, createRandom(5));
    let flipped = 0;
    for (let i = 0; i < 16; i++) {
      const out = JSON.stringify(image(some, i));
      if (out === JSON.stringify(image(mirrored, i))) flipped++;
      else assert.equal(out, JSON.stringify(image(batch, i)), `image ${i} is neither`);
    }
    assert.ok(flipped > 0 && flipped < 16, `${flipped} of 16 flipped`);
    tf.dispose([batch, mirrored, all, none, some]);
  });

  test('shift moves each image by at most k pixels, with zero or edge padding', async () => {
    const batch = await batchOf(8);
    for (const padding of ['zero', 'edge'] as const) {
      const out = shift(3, padding).apply(batch, createRandom(9));
      const offsets = new Set<string>();
      for (let i = 0; i < 8; i++) {
        const found = findShift(image(batch, i), image(out, i), 3, padding);
        assert.ok(found !== undefined, `image ${i} (${padding}) is not a shift within 3 pixels`);
        offsets.add(found.join(','));
      }
      assert.ok(offsets.size > 1, 'offsets differ between images');
      out.dispose();
    }
    const still = shift(0).apply(batch, createRandom(1));
    assert.deepEqual(still.arraySync(), batch.arraySync());
    tf.dispose([batch, still]);
  });

  test('augmentationFromNames: seeded, composable, no leaked tensors', async () => {
    const batch = await batchOf(8);
    const before = tf.memory().numTensors;
    const a = augmentationFromNames(['flip', 'shift'], { seed: 3 });
    const b = augmentationFromNames(['flip', 'shift'], { seed: 3 });
    const apply = a.apply; // usable unbound, as a plain batch function
    const a1 = apply(batch);
    const b1 = b.apply(batch);
    const a2 = a.apply(batch);
    assert.deepEqual(a1.arraySync(), b1.arraySync());
    assert.notDeepEqual(a2.arraySync(), a1.arraySync());
    assert.deepEqual(a1.shape, batch.shape);
    tf.dispose([a1, b1, a2]);
    assert.equal(tf.memory().numTensors, before);
    const none = composeAugmentations([]).apply(batch, createRandom(1));
    assert.notEqual(none, batch);
    assert.deepEqual(none.arraySync(), batch.arraySync());
    none.dispose();
    assert.throws(
      () => augmentationFromNames(['rotate']),
      /unknown augmentation "rotate"; use flip, shift/,
    );
    batch.dispose();
  });
});
