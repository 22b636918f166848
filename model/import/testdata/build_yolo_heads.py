"""Writes two tiny ONNX detectors with the output layouts of exported YOLO models, and the
detections a reference post-processing in numpy finds in their output, for the serving test
(tests/import-yolo.test.ts) to compare `POST /mscr/models/{m}/detect` with.

- yolov8.onnx: `images` [N, 3, 32, 32] -> `output0` [N, 4 + 3, 8], the anchor-free layout of
  Ultralytics' YOLOv8 export (rows cx, cy, w, h in input pixels, then one score per class).
- yolov5.onnx: `images` [N, 3, 32, 32] -> `output0` [N, 8, 5 + 3], the objectness layout of
  YOLOv5 (columns cx, cy, w, h, objectness, class probabilities).

No detector can be downloaded or trained here, so the "network" is one affine map of the
image's mean: output = BASE + mean(image) * K, with BASE a hand-written set of eight boxes
(overlapping boxes of one class that NMS must suppress, overlapping boxes of different
classes that it must keep, one under the score threshold, one over the image's edge) and K
moving the boxes and scores with the input, so the served output depends on the posted image.

The reference decode follows Ultralytics' `non_max_suppression` (scores above `conf`, boxes
xywh -> xyxy, greedy NMS per class at `iou`, best first, at most `max_det`), then maps the
boxes to the posted image's pixels as mscr's inputs are made: stretched to the model's size,
so each axis scales on its own, and clipped to the image.

Usage: python build_yolo_heads.py <out dir> <image width> <image height> <grey value 0..255>
Writes yolov8.onnx, yolov5.onnx, names.txt and expected.json ({"yolov8": [...], "yolov5": [...]},
each detection {"box": [x, y, w, h], "classIndex", "score"} in the image's pixels).
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out_dir, image_w, image_h, grey = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
SIZE = 32
NAMES = ["person", "car", "dog"]
CONF, IOU, MAX_DET = 0.25, 0.45, 100

# cx, cy, w, h (input pixels), class, score
BOXES = [
    (8, 8, 8, 8, 0, 0.90),
    (9, 8, 8, 8, 0, 0.80),  # IoU 0.78 with the first person: suppressed
    (9, 8, 8, 8, 1, 0.70),  # a car on the same spot: another class, kept
    (24, 24, 10, 6, 2, 0.60),
    (24, 26, 10, 6, 2, 0.50),  # IoU 0.5 with the first dog: suppressed
    (24, 28, 10, 6, 2, 0.55),  # IoU 0.2 with it: kept
    (16, 16, 4, 4, 0, 0.20),  # under the threshold
    (30, 2, 6, 6, 1, 0.30),  # over the image's top-right edge: clipped
]
C, N = len(NAMES), len(BOXES)


def anchor_free_base():
    base = np.full((4 + C, N), 0.01, dtype=np.float32)
    k = np.zeros((4 + C, N), dtype=np.float32)
    for n, (cx, cy, w, h, c, score) in enumerate(BOXES):
        base[0:4, n] = (cx, cy, w, h)
        base[4 + c, n] = score
        k[0, n] = 1.0  # the centre moves right with the image's brightness
        k[4 + c, n] = 0.02  # and the score up a little
    return base, k


def objectness_base():
    base = np.full((N, 5 + C), 0.01, dtype=np.float32)
    k = np.zeros((N, 5 + C), dtype=np.float32)
    for n, (cx, cy, w, h, c, score) in enumerate(BOXES):
        base[n, 0:5] = (cx, cy, w, h, 0.95)
        base[n, 5 + c] = score / 0.95
        k[n, 1] = 1.0  # the centre moves down with the image's brightness
        k[n, 5 + c] = 0.02
    return base, k


def write_model(path, base, k):
    rows, cols = base.shape
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean"], axes=[1, 2, 3], keepdims=1),
        helper.make_node("Reshape", ["mean", "shape"], ["mean3"]),
        helper.make_node("Mul", ["mean3", "k"], ["moved"]),
        helper.make_node("Add", ["moved", "base"], ["output0"]),
    ]
    inits = [
        numpy_helper.from_array(np.array([-1, 1, 1], dtype=np.int64), "shape"),
        numpy_helper.from_array(k[None], "k"),
        numpy_helper.from_array(base[None], "base"),
    ]
    graph = helper.make_graph(
        nodes,
        "yolo_head",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, ["batch", rows, cols])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="build_yolo_heads")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def iou(a, b):
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def reference(prediction, layout):
    """Ultralytics-style post-processing of one image's output -> detections in image pixels."""
    if layout == "anchor-free":
        p = prediction.T  # [N, 4 + C]
        boxes, scores = p[:, :4], p[:, 4:]
    else:
        p = prediction  # [N, 5 + C]
        boxes, scores = p[:, :4], p[:, 5:] * p[:, 4:5]
    xyxy = np.stack([boxes[:, 0] - boxes[:, 2] / 2, boxes[:, 1] - boxes[:, 3] / 2,
                     boxes[:, 0] + boxes[:, 2] / 2, boxes[:, 1] + boxes[:, 3] / 2], axis=1)
    kept = []
    for c in range(C):
        candidates = [i for i in np.argsort(-scores[:, c], kind="stable") if scores[i, c] > CONF]
        chosen = []
        for i in candidates:
            if all(iou(xyxy[i], xyxy[j]) <= IOU for j in chosen):
                chosen.append(i)
        kept += [(float(scores[i, c]), c, i) for i in chosen]
    kept.sort(key=lambda t: (-t[0], t[2]))
    sx, sy = image_w / SIZE, image_h / SIZE
    result = []
    for score, c, i in kept[:MAX_DET]:
        x1, y1, x2, y2 = (float(v) for v in xyxy[i])
        x1, x2 = (min(max(v * sx, 0.0), image_w) for v in (x1, x2))
        y1, y2 = (min(max(v * sy, 0.0), image_h) for v in (y1, y2))
        result.append({"box": [x1, y1, x2 - x1, y2 - y1], "classIndex": c, "score": score})
    return result


os.makedirs(out_dir, exist_ok=True)
# The input mscr makes of a solid grey image: every value grey / 255 in float32.
mean = np.float32(grey) / np.float32(255)
expected = {}
for name, layout, (base, k) in [
    ("yolov8", "anchor-free", anchor_free_base()),
    ("yolov5", "objectness", objectness_base()),
]:
    write_model(os.path.join(out_dir, f"{name}.onnx"), base, k)
    output = (base + mean * k).astype(np.float32)
    expected[name] = reference(output, layout)
with open(os.path.join(out_dir, "names.txt"), "w") as f:
    f.write("\n".join(NAMES) + "\n")
with open(os.path.join(out_dir, "expected.json"), "w") as f:
    json.dump(expected, f)
print(f"ok {len(expected['yolov8'])} and {len(expected['yolov5'])} detections")
