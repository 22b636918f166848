/**
 * YOLO decoding and non-maximum suppression against a reference: ONNX Runtime's own
 * `NonMaxSuppression` kernel (the ONNX operator, in a graph written here with the ONNX
 * schema and run by the real runtime) on the same random YOLOv8-layout output. Then the
 * YOLOv5 layout, hand-worked cases and refusals.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { isMscrError } from '../../errors.ts';
import { cornerIou, nonMaxSuppression } from './nms.ts';
import { decodeYolo, yoloLayoutOf } from './yolo.ts';

const { onnx } = onnxProto;
const FLOAT = 1;
const INT64 = 7;

/** A graph of one NonMaxSuppression node: boxes [1, N, 4] as centres, scores [1, C, N]. */
function nmsGraph(maxPerClass: number, iouThreshold: number, scoreThreshold: number): Uint8Array {
  const input = (name: string, dims: number[]): onnxProto.onnx.IValueInfoProto => ({
    name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'mscr-test',
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'nms',
      node: [
        {
          opType: 'NonMaxSuppression',
          input: ['boxes', 'scores', 'max', 'iou', 'score'],
          output: ['selected'],
          attribute: [
            { name: 'center_point_box', type: onnx.AttributeProto.AttributeType.INT, i: 1 },
          ],
        },
      ],
      initializer: [
        { name: 'max', dims: [1], dataType: INT64, int64Data: [maxPerClass] },
        { name: 'iou', dims: [1], dataType: FLOAT, floatData: [iouThreshold] },
        { name: 'score', dims: [1], dataType: FLOAT, floatData: [scoreThreshold] },
      ],
      input: [input('boxes', [1, BOXES, 4]), input('scores', [1, CLASSES, BOXES])],
      output: [
        {
          name: 'selected',
          type: {
            tensorType: { elemType: INT64, shape: { dim: [{ dimParam: 'K' }, { dimValue: 3 }] } },
          },
        },
      ],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

const BOXES = 400;
const CLASSES = 3;

/** A seeded YOLOv8-layout output [1, 4 + C, N]: clustered boxes (so NMS has work), scores. */
function randomOutput(seed: number): Float32Array {
  let state = seed;
  const random = () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
  const out = new Float32Array((4 + CLASSES) * BOXES);
  const centres = Array.from({ length: 12 }, () => [20 + random() * 600, 20 + random() * 600]);
  for (let box = 0; box < BOXES; box++) {
    const [cx, cy] = centres[box % centres.length] as number[];
    out[box] = (cx as number) + (random() - 0.5) * 30;
    out[BOXES + box] = (cy as number) + (random() - 0.5) * 30;
    out[2 * BOXES + box] = 20 + random() * 80;
    out[3 * BOXES + box] = 20 + random() * 80;
    for (let c = 0; c < CLASSES; c++) out[(4 + c) * BOXES + box] = random();
  }
  return out;
}

test('decode + NMS keep the same boxes, in the same order, as ONNX Runtime’s NonMaxSuppression', async () => {
  const session = await ort.InferenceSession.create(nmsGraph(100, 0.45, 0.25));
  for (const seed of [1, 7, 42]) {
    const output = randomOutput(seed);
    // The reference's inputs: boxes [1, N, 4] (centre x, centre y, w, h), scores [1, C, N].
    const boxes = new Float32Array(BOXES * 4);
    for (let box = 0; box < BOXES; box++)
      for (let k = 0; k < 4; k++) boxes[box * 4 + k] = output[k * BOXES + box] as number;
    const scores = output.slice(4 * BOXES);
    const result = await session.run({
      boxes: new ort.Tensor('float32', boxes, [1, BOXES, 4]),
      scores: new ort.Tensor('float32', scores, [1, CLASSES, BOXES]),
    });
    const selected = result.selected?.data as BigInt64Array;
    const reference: string[] = [];
    for (let i = 0; i < selected.length; i += 3)
      reference.push(`${selected[i + 1]}:${selected[i + 2]}`);

    const corners = new Float32Array(BOXES * 4);
    for (let box = 0; box < BOXES; box++) {
      const [cx, cy, w, h] = [0, 1, 2, 3].map((k) => boxes[box * 4 + k] as number);
      corners.set([cx! - w! / 2, cy! - h! / 2, cx! + w! / 2, cy! + h! / 2], box * 4);
    }
    const classScores = Array.from({ length: CLASSES }, (_, c) =>
      scores.subarray(c * BOXES, (c + 1) * BOXES),
    );
    const ours = nonMaxSuppression(corners, classScores, {
      iouThreshold: 0.45,
      scoreThreshold: 0.25,
      maxPerClass: 100,
    }).map((k) => `${k.classIndex}:${k.index}`);
    assert.ok(reference.length > 20 && reference.length < BOXES * 0.75, `${reference.length}`);
    assert.deepEqual(ours, reference, `seed ${seed}`);

    // The decoder on the raw output keeps the same boxes, sorted by score overall.
    const decoded = decodeYolo(output, [1, 4 + CLASSES, BOXES], { classes: CLASSES });
    assert.equal(decoded.length, Math.min(100, reference.length));
    for (let i = 1; i < decoded.length; i++)
      assert.ok((decoded[i - 1]?.score as number) >= (decoded[i]?.score as number));
    const kept = new Set(reference);
    for (const d of decoded) {
      const index = [...Array(BOXES).keys()].find(
        (box) =>
          Math.abs((corners[box * 4] as number) - d.box[0]) < 1e-3 &&
          Math.abs((corners[box * 4 + 1] as number) - d.box[1]) < 1e-3 &&
          Math.abs((scores[d.classIndex * BOXES + box] as number) - d.score) < 1e-6,
      );
      assert.ok(kept.has(`${d.classIndex}:${index}`), 'a decoded box the reference kept');
    }
  }
});

test('the YOLOv5 layout: score = objectness x class probability, boxes in input pixels', () => {
  // Two boxes, two classes: [cx, cy, w, h, objectness, p0, p1].
  const output = Float32Array.from([
    ...[50, 50, 20, 10, 0.9, 0.8, 0.2],
    ...[52, 50, 20, 10, 0.5, 0.9, 0.1], // overlaps the first (IoU 0.82): suppressed for class 0
  ]);
  assert.equal(yoloLayoutOf([1, 2, 7], 2), 'objectness');
  const decoded = decodeYolo(output, [1, 2, 7], { classes: 2, scoreThreshold: 0.1 });
  assert.deepEqual(
    decoded.map((d) => ({ ...d, score: Number(d.score.toFixed(4)) })),
    [
      { box: [40, 45, 20, 10], classIndex: 0, score: 0.72 },
      { box: [40, 45, 20, 10], classIndex: 1, score: 0.18 },
    ],
  );
  // Class-aware: a box of another class is never suppressed by this one.
  assert.ok(cornerIou(Float32Array.from([40, 45, 60, 55, 42, 45, 62, 55]), 0, 1) > 0.45);
});

test('NMS by hand: IoU exactly at the threshold keeps, above suppresses; ties by index; a cap', () => {
  // Boxes 0 and 1 overlap with IoU 1/3; box 2 is elsewhere.
  const boxes = [0, 0, 10, 10, 5, 0, 15, 10, 50, 50, 60, 60];
  const scores = [[0.9, 0.9, 0.5]];
  const at = (iouThreshold: number, maxPerClass = 10) =>
    nonMaxSuppression(boxes, scores, { iouThreshold, scoreThreshold: 0, maxPerClass }).map(
      (k) => k.index,
    );
  assert.deepEqual(at(1 / 3), [0, 1, 2]);
  assert.deepEqual(at(0.3), [0, 2]);
  assert.deepEqual(at(0.3, 1), [0]);
  // Scores must be above the threshold, not equal to it.
  assert.deepEqual(
    nonMaxSuppression(boxes, scores, { iouThreshold: 1, scoreThreshold: 0.5, maxPerClass: 9 }).map(
      (k) => k.index,
    ),
    [0, 1],
  );
});

test('an output of a shape no YOLO layout has is refused with the shapes it could have', () => {
  assert.throws(
    () => decodeYolo(new Float32Array(10), [1, 10], { classes: 2 }),
    (e: unknown) =>
      isMscrError(e, 'bad_request') && /\[1, 6, boxes\].*\[1, boxes, 7\]/.test(e.message),
  );
});
