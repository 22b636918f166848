/**
 * The object-detection task through the real pipeline: generated PNG + COCO files loaded by
 * the real loader, the grid detector trained on the WebAssembly backend, published to a
 * local store, scored by COCO mAP. The plumbing tests train one epoch on a few images; one
 * test trains for real and checks the detector finds the shapes on held-out images.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { validateManifest } from '../../connectors/ms/manifest.ts';
import { openStore, type ModelStore } from '../../connectors/store/index.ts';
import { syntheticDetections, writeCocoDetection } from '../data/detection-synthetic.ts';
import { objectDetection } from './object-detection.ts';
import { createCandidateTrainer, evaluateModel, trainCandidate, trainModel } from './index.ts';
import type { DetectorReport } from './task.ts';

let dir: string;
let store: ModelStore;
let small: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mscr-detection-'));
  store = openStore(`file://${join(dir, 'models')}`);
  small = join(dir, 'small');
  await writeCocoDetection(small, await syntheticDetections({ count: 30, seed: 4 }));
});
after(() => rm(dir, { recursive: true, force: true }));

describe('object detection plumbing (one epoch on 30 images)', () => {
  test('mscr train --task object-detection: trains, scores mAP, publishes a detector manifest', async () => {
    const result = await trainModel({
      model: 'objects',
      task: 'object-detection',
      data: [small],
      store,
      epochs: 1,
      backend: 'wasm',
    });
    const manifest = validateManifest(
      JSON.parse(await readFile(join(dir, 'models/objects/1/manifest.json'), 'utf8')),
    );
    assert.equal(manifest.task, 'object-detection');
    assert.equal(manifest.architecture, 'grid-detector');
    assert.deepEqual(manifest.labels, ['circle', 'square', 'triangle']);
    assert.deepEqual(manifest.detection, { layout: 'grid' });
    assert.deepEqual(manifest.preprocessing, {
      kind: 'image',
      height: 64,
      width: 64,
      channels: 3,
      normalization: { type: 'rescale' },
    });
    assert.deepEqual(manifest.inputs[0]?.shape, [-1, 64, 64, 3]);
    assert.deepEqual(manifest.outputs[0]?.shape, [-1, 8, 8, 8]);
    assert.equal(manifest.training.trainSamples, 24);
    assert.equal(manifest.training.testSamples, 6);
    for (const metric of ['map', 'map50']) {
      const value = manifest.metrics[metric] as number;
      assert.ok(value >= 0 && value <= 1, `${metric} ${value}`);
    }
    assert.ok((manifest.metrics.map as number) <= (manifest.metrics.map50 as number));
    const report = result.score.report as DetectorReport;
    assert.equal(report.kind, 'detection');
    assert.deepEqual(Object.keys(report.classes).sort(), ['circle', 'square', 'triangle']);
    assert.equal(
      Object.values(report.classes).reduce((n, c) => n + c.truths, 0),
      report.objects,
    );
    // The ONNX form is either there and checked, or left out: publishing never fails on it.
    assert.ok(manifest.artifacts?.onnx === undefined || manifest.files['model.onnx'] !== undefined);

    // The published version scores the same data again through `mscr evaluate`.
    const evaluated = await evaluateModel({
      store,
      model: 'objects',
      data: [small],
      backend: 'wasm',
    });
    assert.equal(evaluated.score.report.kind, 'detection');
    assert.equal((evaluated.score.report as DetectorReport).images, 30);
  });

  test('feedback images join the training split only; the held-out split stays the base data', async () => {
    const feedback = await syntheticDetections({ count: 4, seed: 99, size: 96 });
    const extra = feedback.images.map((image, i) => ({
      bytes: image.bytes,
      boxes: image.objects.map(({ box, category }) => ({
        box: [...box] as [number, number, number, number],
        label: feedback.classNames[category] as string,
      })),
      source: `feedback f${i}`,
    }));
    const prepared = await objectDetection.prepare({
      sources: [small],
      testFraction: 0.2,
      seed: 42,
      extraDetections: extra,
    });
    try {
      assert.equal(prepared.xTrain.shape[0], 28);
      assert.equal(prepared.xTest.shape[0], 6);
      assert.match(prepared.summary, /4 from feedback, training only/);
      assert.ok(prepared.sources.includes('4 feedback images'));
      // A 96x96 feedback image's boxes are scaled to the 64x64 input: objectness cells appear.
      const targets = prepared.yTrain.slice([24, 0, 0, 0], [4, 8, 8, 1]).sum().dataSync()[0];
      assert.ok((targets as number) >= 4, `feedback objects encoded: ${targets}`);
    } finally {
      tf.dispose([prepared.xTrain, prepared.yTrain, prepared.xTest, prepared.yTest]);
    }
    const wrongLabel = [
      {
        ...extra[0]!,
        boxes: [{ box: [1, 1, 5, 5] as [number, number, number, number], label: 'horse' }],
      },
    ];
    await assert.rejects(
      objectDetection.prepare({
        sources: [small],
        testFraction: 0.2,
        seed: 1,
        extraDetections: wrongLabel,
      }),
      /feedback f0: class "horse" is not in the data/,
    );
    const outside = [
      {
        ...extra[0]!,
        boxes: [{ box: [90, 1, 20, 5] as [number, number, number, number], label: 'circle' }],
      },
    ];
    await assert.rejects(
      objectDetection.prepare({
        sources: [small],
        testFraction: 0.2,
        seed: 1,
        extraDetections: outside,
      }),
      /feedback f0: box \[90, 1, 20, 5\] lies outside the 96x96 image/,
    );
  });

  test('the MR trainer: a candidate scores a published version on its own held-out images by map', async () => {
    const candidate = await createCandidateTrainer().train({
      model: 'objects',
      architecture: 'grid-detector',
      data: [small],
      epochs: 1,
      backend: 'wasm',
    });
    try {
      assert.deepEqual(Object.keys(candidate.metrics).sort(), ['map', 'map50']);
      const { manifest, files } = await store.readVersion('objects', 1);
      const theirs = await candidate.scoreVersion(manifest, files);
      assert.ok(theirs.map !== undefined && theirs.map >= 0 && theirs.map <= 1);
    } finally {
      candidate.dispose();
    }
  });

  test('an image size that is not a multiple of the stride and a classifier on detection data are refused', async () => {
    await assert.rejects(
      trainCandidate({
        model: 'objects',
        task: 'object-detection',
        data: [small],
        imageSize: { height: 60, width: 64 },
        epochs: 1,
        backend: 'wasm',
      }),
      /multiples of 8, got 60x64/,
    );
    await assert.rejects(
      trainCandidate({
        model: 'objects',
        architecture: 'cifar10-cnn',
        task: 'object-detection',
        data: [small],
        epochs: 1,
        backend: 'wasm',
      }),
      /cifar10-cnn trains image-classification models, not object-detection/,
    );
  });
});

describe('a real training run', () => {
  test('the default grid detector finds the shapes on held-out generated images (mAP@0.5 well above chance)', async () => {
    const data = join(dir, 'real');
    await writeCocoDetection(data, await syntheticDetections({ count: 400, seed: 11 }));
    const started = performance.now();
    const trained = await trainCandidate({
      model: 'objects',
      task: 'object-detection',
      data: [data],
      epochs: 8,
      backend: 'wasm',
      onnx: false,
    });
    const seconds = (performance.now() - started) / 1000;
    try {
      const report = trained.score.report as DetectorReport;
      // Figures for the README, printed, never asserted on (wall-clock time depends on the machine).
      console.log(
        `grid-detector, 320 train / 80 held-out 64x64 images, 8 epochs: ${seconds.toFixed(0)} s; mAP@0.5 ${report.map50.toFixed(3)}, mAP@0.5:0.95 ${report.map.toFixed(3)}; ${Object.entries(
          report.classes,
        )
          .map(([label, c]) => `${label} ${c.ap50.toFixed(3)} / ${c.ap.toFixed(3)}`)
          .join(', ')}`,
      );
      assert.equal(report.images, 80);
      // Measured mAP@0.5 0.80 and 0.74, mAP@0.5:0.95 0.33 and 0.27 in two runs here (weights
      // start unseeded): asserted with margin. A detector that guessed would score near 0.
      assert.ok(report.map50 > 0.55, `mAP@0.5 ${report.map50}`);
      assert.ok(report.map > 0.15, `mAP@0.5:0.95 ${report.map}`);
      for (const [label, c] of Object.entries(report.classes)) {
        assert.ok(c.ap50 > 0.4, `${label}: AP@0.5 ${c.ap50}`);
      }
    } finally {
      trained.dispose();
    }
  });
});

test('held-out images expressed for a version with another input size: resized, boxes scaled', async () => {
  const prepared = await objectDetection.prepare({ sources: [small], testFraction: 0.2, seed: 42 });
  tf.dispose([prepared.xTrain, prepared.yTrain]);
  try {
    const manifest = validateManifest(
      JSON.parse(await readFile(join(dir, 'models/objects/1/manifest.json'), 'utf8')),
    );
    const smaller = {
      ...manifest,
      preprocessing: {
        ...manifest.preprocessing,
        height: 32,
        width: 32,
      } as typeof manifest.preprocessing,
    };
    const same = objectDetection.expressHeldOut(prepared.heldOut, manifest);
    const half = objectDetection.expressHeldOut(prepared.heldOut, smaller);
    try {
      assert.deepEqual(half.x.shape, [6, 32, 32, 3]);
      const [full, scaled] = [
        same.y.arraySync() as number[][][],
        half.y.arraySync() as number[][][],
      ];
      full.forEach((image, i) =>
        image.forEach((row, j) => {
          const other = scaled[i]?.[j] as number[];
          assert.equal(other[0], row[0], 'same class');
          if ((row[0] as number) >= 0)
            row
              .slice(1)
              .forEach((v, k) => assert.ok(Math.abs((other[k + 1] as number) - v / 2) < 1e-4));
        }),
      );
      const mean = (t: tf.Tensor) => t.mean().dataSync()[0] as number;
      assert.ok(Math.abs(mean(same.x) - mean(half.x)) < 0.02, 'the same pictures, smaller');
    } finally {
      tf.dispose([same.x, same.y, half.x, half.y]);
    }
  } finally {
    tf.dispose([prepared.xTest, prepared.yTest]);
  }
});
