/**
 * The detect route's protocol step without a server: the query parameters, which manifests
 * are detectors (and the layout of one imported before manifests had `detection`), and one
 * image's output read as boxes in the posted image's pixels.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isMscrError } from '../../connectors/errors.ts';
import type { ModelManifest } from '../../connectors/ms/manifest.ts';
import { detectionsOf, detectorOf, parseDetectParams, refuseDetector } from './detect.ts';
import { cifarManifest } from './test-manifests.ts';

/** An imported YOLOv8-style detector: NCHW 32x32, `[N, 4 + 2, 3]`, no `detection` field. */
function yoloManifest(outputShape: number[], extra: Partial<ModelManifest> = {}): ModelManifest {
  return {
    ...cifarManifest,
    name: 'yolo',
    task: 'object-detection',
    inputs: [{ name: 'images', dtype: 'float32', shape: [-1, 3, 32, 32] }],
    outputs: [{ name: 'output0', dtype: 'float32', shape: outputShape }],
    labels: ['cat', 'dog'],
    preprocessing: {
      kind: 'image',
      height: 32,
      width: 32,
      channels: 3,
      layout: 'NCHW',
      normalization: { type: 'rescale' },
    },
    ...extra,
  };
}

const badRequest = (pattern: RegExp) => (error: unknown) =>
  isMscrError(error, 'bad_request') && pattern.test(error.message);

test('parameters: absent, valid, and each bad one named', () => {
  assert.deepEqual(parseDetectParams({}), {});
  assert.deepEqual(parseDetectParams({ threshold: '0.5', iou: '0', max: '7' }), {
    scoreThreshold: 0.5,
    iouThreshold: 0,
    maxDetections: 7,
  });
  assert.deepEqual(parseDetectParams({ threshold: '' }), {});
  for (const [query, name] of [
    [{ threshold: '1e9' }, 'threshold'],
    [{ threshold: 'Infinity' }, 'threshold'],
    [{ threshold: '0x1' }, 'threshold'],
    [{ threshold: ['0.1', '0.2'] }, 'threshold'],
    [{ iou: '--1' }, 'iou'],
    [{ max: '1001' }, 'max'],
    [{ max: ' 5' }, 'max'],
  ] as const) {
    assert.throws(() => parseDetectParams(query), badRequest(new RegExp(`^${name} must`)));
  }
});

test('detectors only: a classifier is refused naming its task; a detector on /classify too', () => {
  assert.throws(
    () => detectorOf(cifarManifest),
    badRequest(/is a image-classification model, not an object detector.*use \/classify/),
  );
  assert.doesNotThrow(() => refuseDetector(cifarManifest));
  assert.throws(() => refuseDetector(yoloManifest([-1, 6, 3])), badRequest(/its \/detect route/));
});

test('without a detection field the layout comes from the output shape', () => {
  assert.deepEqual(detectorOf(yoloManifest([-1, 6, 3])).spec, { layout: 'anchor-free' });
  assert.deepEqual(detectorOf(yoloManifest([-1, 3, 7])).spec, { layout: 'objectness' });
  assert.deepEqual(
    detectorOf(yoloManifest([-1, 2, 2, 7], { detection: { layout: 'grid' } })).spec,
    { layout: 'grid' },
  );
  assert.throws(() => detectorOf(yoloManifest([-1, 5, 5])), badRequest(/fits neither/));
});

test("one image's boxes in the posted image's pixels, clipped, labelled, best first", () => {
  const detector = detectorOf(yoloManifest([-1, 6, 3]));
  // Rows cx, cy, w, h, cat, dog; three boxes: a dog, a cat over the right edge, a weak cat.
  const data = Float32Array.from(
    [
      [8, 28, 16],
      [8, 16, 16],
      [8, 12, 4],
      [8, 8, 4],
      [0.1, 0.6, 0.2],
      [0.9, 0.0, 0.0],
    ].flat(),
  );
  const found = detectionsOf(
    detector,
    { name: 'output0', shape: [1, 6, 3], data },
    { width: 64, height: 16 },
    {},
  );
  // 64x16 image: x scales by 2, y by 0.5.
  assert.deepEqual(found, [
    { box: [8, 2, 16, 4], label: 'dog', classIndex: 1, score: 0.9 },
    { box: [44, 6, 20, 4], label: 'cat', classIndex: 0, score: 0.6 }, // 22..34 clipped at 32
  ]);
  const strict = detectionsOf(
    detector,
    { name: 'output0', shape: [1, 6, 3], data },
    { width: 64, height: 16 },
    { scoreThreshold: 0.7 },
  );
  assert.deepEqual(
    strict.map((d) => d.label),
    ['dog'],
  );
});
