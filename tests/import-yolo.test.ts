/**
 * Detectors trained elsewhere, in the two common YOLO output layouts: ONNX models written in
 * Python (model/import/testdata/build_yolo_heads.py: YOLOv8's anchor-free `[N, 4 + C, boxes]`
 * and YOLOv5's objectness `[N, boxes, 5 + C]`), imported with `mscr models import --task
 * object-detection`, served by ONNX Runtime, and their `/detect` answers compared with the
 * detections a reference post-processing in numpy (Ultralytics' scheme: threshold, xywh ->
 * xyxy, greedy NMS per class) finds in the same output, in the posted image's pixels.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import type { ModelManifest } from '../connectors/ms/manifest.ts';
import type { DetectResponse } from '../connectors/sc/index.ts';
import type { Service } from '../service/server.ts';
import { postJson, startService, waitUntil } from '../service/test-support.ts';
import { ML_PYTHON } from './python.ts';
import { runMscr } from './run-mscr.ts';

const BUILD = new URL('../model/import/testdata/build_yolo_heads.py', import.meta.url).pathname;
const WIDTH = 64;
const HEIGHT = 48;
const GREY = 128;

interface Expected {
  box: [number, number, number, number];
  classIndex: number;
  score: number;
}

describe('YOLO-layout ONNX detectors, imported and served on /detect', () => {
  let dir: string;
  let store: string;
  let service: Service | undefined;
  let url: string;
  let expected: Record<'yolov8' | 'yolov5', Expected[]>;
  const manifests: Record<string, ModelManifest> = {};

  const importArgs = (model: string, file: string, extra: string[] = []) => [
    'models',
    'import',
    '--store',
    store,
    '--model',
    model,
    '--task',
    'object-detection',
    '--image-size',
    '32',
    '--json',
    ...extra,
    file,
  ];

  before(async () => {
    assert.ok(
      existsSync(ML_PYTHON),
      `run node scripts/setup-python.mjs first (npm test does): ${ML_PYTHON} is missing`,
    );
    dir = await mkdtemp(path.join(os.tmpdir(), 'mscr-yolo-'));
    const built = await promisify(execFile)(ML_PYTHON, [
      BUILD,
      dir,
      String(WIDTH),
      String(HEIGHT),
      String(GREY),
    ]);
    assert.match(built.stdout, /^ok 5 and 5 detections/);
    expected = JSON.parse(
      await readFile(path.join(dir, 'expected.json'), 'utf8'),
    ) as typeof expected;
    store = `file://${path.join(dir, 'store')}`;
    for (const model of ['yolov8', 'yolov5']) {
      const run = await runMscr(
        importArgs(model, path.join(dir, `${model}.onnx`), [
          '--labels',
          path.join(dir, 'names.txt'),
        ]),
      );
      assert.equal(run.code, 0, run.stderr);
      manifests[model] = JSON.parse(run.stdout) as ModelManifest;
    }
    ({ service, url } = await startService(store));
    await waitUntil(
      async () => (await fetch(`${url}/v2/health/ready`)).status === 200,
      'ready',
      120_000,
    );
  });
  after(async () => {
    await service?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the manifest records the layout told from the output shape, and image preprocessing', () => {
    const v8 = manifests.yolov8 as ModelManifest;
    const v5 = manifests.yolov5 as ModelManifest;
    assert.equal(v8.task, 'object-detection');
    assert.deepEqual(v8.detection, { layout: 'anchor-free' });
    assert.deepEqual(v5.detection, { layout: 'objectness' });
    assert.deepEqual(v8.labels, ['person', 'car', 'dog']);
    assert.deepEqual(v8.outputs[0]?.shape, [-1, 7, 8]);
    assert.deepEqual(v5.outputs[0]?.shape, [-1, 8, 8]);
    assert.deepEqual(v8.preprocessing, {
      kind: 'image',
      height: 32,
      width: 32,
      channels: 3,
      layout: 'NCHW',
      normalization: { type: 'rescale' },
    });
  });

  for (const model of ['yolov8', 'yolov5'] as const) {
    test(`${model}: /detect answers the numpy reference's boxes in the posted image's pixels`, async () => {
      const image = await sharp({
        create: {
          width: WIDTH,
          height: HEIGHT,
          channels: 3,
          background: { r: GREY, g: GREY, b: GREY },
        },
      })
        .png()
        .toBuffer();
      const response = await fetch(`${url}/mscr/models/${model}/detect`, {
        method: 'POST',
        body: image,
      });
      const answer = (await response.json()) as DetectResponse;
      assert.equal(response.status, 200, JSON.stringify(answer));
      assert.deepEqual(answer.image, { width: WIDTH, height: HEIGHT });
      const reference = expected[model];
      assert.equal(answer.detections.length, reference.length, JSON.stringify(answer.detections));
      answer.detections.forEach((found, i) => {
        const want = reference[i] as Expected;
        assert.equal(found.classIndex, want.classIndex, `detection ${i}`);
        assert.equal(found.label, ['person', 'car', 'dog'][want.classIndex]);
        assert.ok(
          Math.abs(found.score - want.score) < 1e-5,
          `detection ${i}: score ${found.score} vs ${want.score}`,
        );
        found.box.forEach((v, j) =>
          assert.ok(
            Math.abs(v - (want.box[j] as number)) < 0.01,
            `detection ${i} box ${JSON.stringify(found.box)} vs ${JSON.stringify(want.box)}`,
          ),
        );
      });
      // V2 gives the raw tensor in the model's own layout.
      const v2 = await postJson(`${url}/v2/models/${model}/infer`, {
        inputs: [
          {
            name: 'images',
            shape: [1, 3, 32, 32],
            datatype: 'FP32',
            data: new Array(3 * 32 * 32).fill(GREY / 255),
          },
        ],
      });
      assert.equal(v2.status, 200, JSON.stringify(v2.json));
      const [output] = v2.json.outputs as { shape: number[] }[];
      assert.deepEqual(output?.shape, model === 'yolov8' ? [1, 7, 8] : [1, 8, 8]);
    });
  }

  test('import refuses a detector whose output fits no YOLO layout for its labels, or has no labels', async () => {
    const twoLabels = path.join(dir, 'two.txt');
    await writeFile(twoLabels, 'person\ncar\n');
    const wrong = await runMscr(
      importArgs('wrong', path.join(dir, 'yolov8.onnx'), ['--labels', twoLabels]),
    );
    assert.notEqual(wrong.code, 0);
    assert.match(
      wrong.stderr,
      /a YOLO output of shape \[1, 7, 8\] fits neither \[1, 6, boxes\] \(anchor-free, YOLOv8\) nor \[1, boxes, 7\] \(objectness, YOLOv5\) for 2 classes/,
    );
    const unlabelled = await runMscr(importArgs('unlabelled', path.join(dir, 'yolov8.onnx')));
    assert.notEqual(unlabelled.code, 0);
    assert.match(unlabelled.stderr, /needs its class names: pass --labels/);
  });
});
