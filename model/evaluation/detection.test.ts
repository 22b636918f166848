/**
 * The COCO detection metrics: hand-worked cases, then the same random boxes through
 * pycocotools' COCOeval (the reference implementation, pinned by scripts/setup-python.mjs)
 * and through ours. With CI set, a missing pycocotools fails the comparison instead of
 * skipping it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EVAL_PYTHON } from '../../tests/python.ts';
import { createRandom } from '../data/random.ts';
import { detectionReport, iou, type Box, type Detection, type GroundTruth } from './detection.ts';

const close = (actual: number, expected: number, what: string, tolerance = 1e-12) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} vs ${expected}`);

test('IoU of [x, y, w, h] boxes: identical, half-overlapping, touching, apart, empty', () => {
  assert.equal(iou([0, 0, 10, 10], [0, 0, 10, 10]), 1);
  // Overlap 5x10 = 50; union 100 + 100 - 50 = 150.
  close(iou([0, 0, 10, 10], [5, 0, 10, 10]), 1 / 3, 'half');
  assert.equal(iou([0, 0, 10, 10], [10, 0, 10, 10]), 0);
  assert.equal(iou([0, 0, 10, 10], [50, 50, 10, 10]), 0);
  assert.equal(iou([0, 0, 0, 0], [0, 0, 0, 0]), 0);
});

test('mAP by hand: a perfect detector, a loose box, a false positive ranked first, no detections', () => {
  const truth: GroundTruth = { image: 1, label: 'cat', box: [0, 0, 100, 100] };
  const perfect = detectionReport([truth], [{ ...truth, score: 0.9 }]);
  assert.equal(perfect.map50, 1);
  assert.equal(perfect.map, 1);

  // IoU 0.62 (a 100x100 box against 100x62 inside it): matched at 0.5, 0.55 and 0.6 only.
  const loose = detectionReport([truth], [{ ...truth, box: [0, 0, 100, 62], score: 0.9 }]);
  close(iou(truth.box, [0, 0, 100, 62]), 0.62, 'iou');
  assert.equal(loose.map50, 1);
  close(loose.map, 0.3, 'AP over 0.5:0.95');

  // Two cats; the best-scored detection hits nothing, the second finds one cat.
  // Precision by rank [0, 1/2], made non-increasing from the end: [1/2, 1/2]; recall
  // [0, 1/2]: the 51 recall points 0 ... 0.5 read 1/2, the 50 above read 0.
  const two: GroundTruth[] = [truth, { image: 2, label: 'cat', box: [0, 0, 50, 50] }];
  const ranked = detectionReport(two, [
    { image: 1, label: 'cat', box: [500, 500, 10, 10], score: 0.95 },
    { image: 2, label: 'cat', box: [0, 0, 50, 50], score: 0.5 },
  ]);
  close(ranked.map50, (51 * 0.5) / 101, 'AP50');

  // A class nobody detected scores 0 and counts; a class with no ground truth does not.
  const mixed = detectionReport(
    [truth, { image: 1, label: 'dog', box: [0, 0, 10, 10] }],
    [
      { ...truth, score: 0.9 },
      { image: 1, label: 'bird', box: [0, 0, 10, 10], score: 0.9 },
    ],
  );
  assert.deepEqual(Object.keys(mixed.classes), ['cat', 'dog']);
  assert.equal(mixed.classes.dog?.ap50, 0);
  assert.equal(mixed.map50, 0.5);
  assert.deepEqual(detectionReport([], []), { map50: 0, map: 0, classes: {} });
});

/** Random scenes: jittered detections of most boxes, missed ones, false positives, ties. */
function randomScenes(seed: number) {
  const random = createRandom(seed);
  const labels = ['circle', 'square', 'triangle'];
  const truths: GroundTruth[] = [];
  const detections: Detection[] = [];
  const box = (): Box => {
    const w = 8 + Math.floor(random.next() * 60);
    const h = 8 + Math.floor(random.next() * 60);
    return [Math.floor(random.next() * 160), Math.floor(random.next() * 160), w, h];
  };
  for (let image = 1; image <= 40; image++) {
    const count = 1 + Math.floor(random.next() * 6);
    for (let i = 0; i < count; i++) {
      const label = labels[Math.floor(random.next() * labels.length)] as string;
      const truth: GroundTruth = { image, label, box: box() };
      truths.push(truth);
      if (random.next() < 0.8) {
        const [x, y, w, h] = truth.box;
        const jitter = () => (random.next() - 0.5) * 0.4;
        detections.push({
          image,
          // Sometimes the right box with the wrong class.
          label: random.next() < 0.1 ? (labels[(labels.indexOf(label) + 1) % 3] as string) : label,
          box: [x + jitter() * w, y + jitter() * h, w * (1 + jitter()), h * (1 + jitter())],
          // Coarse scores, so ties across images happen and their order matters.
          score: Math.round(random.next() * 20) / 20,
        });
      }
    }
    for (let i = Math.floor(random.next() * 3); i > 0; i--) {
      const label = labels[Math.floor(random.next() * labels.length)] as string;
      detections.push({ image, label, box: box(), score: Math.round(random.next() * 20) / 20 });
    }
  }
  return { labels, truths, detections };
}

const COCO_EVAL = `
import json, sys
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
import contextlib, io
with contextlib.redirect_stdout(io.StringIO()):
    truth = COCO(sys.argv[1])
    found = truth.loadRes(sys.argv[2])
    evaluation = COCOeval(truth, found, 'bbox')
    evaluation.evaluate(); evaluation.accumulate(); evaluation.summarize()
precision = evaluation.eval['precision']  # [T, R, K, area, maxDets]
per_class = {}
for k, category in enumerate(evaluation.params.catIds):
    p = precision[:, :, k, 0, 2]
    per_class[truth.loadCats(int(category))[0]['name']] = {
        'ap50': float(p[0][p[0] > -1].mean()), 'ap': float(p[p > -1].mean())}
print(json.dumps({'map': evaluation.stats[0], 'map50': evaluation.stats[1], 'classes': per_class}))
`;

const needsPython = !existsSync(EVAL_PYTHON) && !process.env.CI;
test(
  'the same random scenes give the same mAP here as in pycocotools',
  { skip: needsPython ? 'pycocotools not installed: node scripts/setup-python.mjs' : false },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mscr-coco-'));
    try {
      for (const seed of [1, 2, 3]) {
        const { labels, truths, detections } = randomScenes(seed);
        const categoryId = (label: string) => labels.indexOf(label) + 1;
        const images = [...new Set(truths.map((t) => t.image))];
        const truthFile = join(dir, `truth-${seed}.json`);
        const foundFile = join(dir, `found-${seed}.json`);
        await writeFile(
          truthFile,
          JSON.stringify({
            images: images.map((id) => ({ id, width: 256, height: 256 })),
            categories: labels.map((name) => ({ id: categoryId(name), name })),
            annotations: truths.map((t, i) => ({
              id: i + 1,
              image_id: t.image,
              category_id: categoryId(t.label),
              bbox: t.box,
              area: t.box[2] * t.box[3],
              iscrowd: 0,
            })),
          }),
        );
        await writeFile(
          foundFile,
          JSON.stringify(
            detections.map((d) => ({
              image_id: d.image,
              category_id: categoryId(d.label),
              bbox: d.box,
              score: d.score,
            })),
          ),
        );
        const python = spawnSync(EVAL_PYTHON, ['-c', COCO_EVAL, truthFile, foundFile], {
          encoding: 'utf8',
        });
        assert.equal(python.status, 0, python.stderr);
        const reference = JSON.parse(python.stdout) as {
          map: number;
          map50: number;
          classes: Record<string, { ap50: number; ap: number }>;
        };
        const ours = detectionReport(truths, detections);
        assert.ok(reference.map50 > 0.2 && reference.map50 < 0.95, 'a scene that can be wrong');
        close(ours.map50, reference.map50, `seed ${seed} mAP@0.5`, 1e-9);
        close(ours.map, reference.map, `seed ${seed} mAP@0.5:0.95`, 1e-9);
        for (const label of labels) {
          close(
            ours.classes[label]?.ap50 ?? NaN,
            reference.classes[label]?.ap50 ?? NaN,
            label,
            1e-9,
          );
          close(ours.classes[label]?.ap ?? NaN, reference.classes[label]?.ap ?? NaN, label, 1e-9);
        }
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);
