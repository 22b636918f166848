/**
 * The retraining gate's held-out set is drawn from the base data before feedback joins
 * (issue 15, item 3): whoever can post feedback cannot choose the images a candidate is
 * judged on. Real CIFAR-10 images, the real task's `prepare`, no training.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { ExtraImage } from '../../connectors/mr/index.ts';
import { initBackend } from '../../runtime/backend/index.ts';
import { sharedData } from '../../tests/shared-data.ts';
import { imageClassification } from './image-classification.ts';
import type { PreparedData } from './task.ts';

function dispose(prepared: PreparedData): void {
  tf.dispose([prepared.xTrain, prepared.yTrain, prepared.xTest, prepared.yTest]);
}

describe('held-out split and feedback', () => {
  test('the held-out set is the same with 0, 1 and 40 feedback images; feedback only adds training examples', async () => {
    await initBackend('wasm');
    const folder = sharedData('cifar10/images');
    const files = (await readdir(folder)).filter((f) => f.endsWith('.jpg')).slice(0, 40);
    const extra: ExtraImage[] = await Promise.all(
      files.map(async (file, i) => ({
        bytes: await readFile(join(folder, file)),
        label: 'cat',
        source: `feedback fb-${i}`,
      })),
    );
    const options = {
      sources: [sharedData('cifar10/train')],
      testFraction: 0.2,
      seed: 7,
      limit: 60,
    };
    const base = await imageClassification.prepare(options);
    const baseTest = Array.from(await base.xTest.data());
    const baseTrainRows = base.xTrain.shape[0] as number;
    for (const count of [1, 40]) {
      const withFeedback = await imageClassification.prepare({
        ...options,
        extraImages: extra.slice(0, count),
      });
      assert.equal(withFeedback.xTest.shape[0], base.xTest.shape[0], `${count} feedback images`);
      assert.equal(withFeedback.xTrain.shape[0], baseTrainRows + count);
      const heldOut = (withFeedback.heldOut as unknown as { dataset: { pixels: Uint8Array } })
        .dataset.pixels;
      const baseHeldOut = (base.heldOut as unknown as { dataset: { pixels: Uint8Array } }).dataset
        .pixels;
      assert.deepEqual(Buffer.from(heldOut), Buffer.from(baseHeldOut), 'the same held-out pixels');
      // The preprocessing is fitted on the training split, so compare raw pixels above and
      // only the shape of the normalized tensors here.
      assert.equal((await withFeedback.xTest.data()).length, baseTest.length);
      assert.notEqual(
        withFeedback.fingerprint,
        base.fingerprint,
        'feedback changes the fingerprint',
      );
      assert.ok(withFeedback.sources.includes(`${count} feedback images`));
      dispose(withFeedback);
    }
    dispose(base);
  });
});
