"""The bench's ONNX form of a TF.js Sequential CNN (conv2d 'same' + relu, max pooling,
flatten, dropout, dense), with the SAME weights, so both engines compute the same function.
A stand-in for mscr's TypeScript ONNX exporter (model/export/onnx, another change) until it
lands; it handles only the layer types of the cifar10-cnn architecture.

NHWC input as TF.js takes it, transposed to NCHW for the convolutions and back before the
flatten, so the dense weights apply unchanged.

Usage: python tfjs_sequential_to_onnx.py <folder with model.json + weights> <out.onnx>
"""
import json
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

folder, out = Path(sys.argv[1]), sys.argv[2]
model_json = json.loads((folder / "model.json").read_text())
topology = model_json["modelTopology"]
config = topology.get("model_config", topology)["config"]
layers = config["layers"] if isinstance(config, dict) else config

weights = {}
for group in model_json["weightsManifest"]:
    data = b"".join((folder / p).read_bytes() for p in group["paths"])
    offset = 0
    for spec in group["weights"]:
        assert spec["dtype"] == "float32", spec
        count = int(np.prod(spec["shape"])) if spec["shape"] else 1
        weights[spec["name"]] = np.frombuffer(data, np.float32, count, offset).reshape(spec["shape"])
        offset += count * 4

first = layers[0]["config"]
shape = first.get("batch_input_shape") or first.get("batchInputShape")
nodes, inits = [], []


def init(name, array):
    inits.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name))
    return name


def layer_weights(name):
    kernel = next(v for k, v in weights.items() if k.startswith(f"{name}/") and k.endswith("kernel"))
    bias = next(v for k, v in weights.items() if k.startswith(f"{name}/") and k.endswith("bias"))
    return kernel, bias


nodes.append(helper.make_node("Transpose", ["image"], ["x0"], perm=[0, 3, 1, 2]))
x, nchw, i = "x0", True, 0
for layer in layers:
    kind, cfg = layer["class_name"], layer["config"]
    name = cfg["name"]
    i += 1
    y = f"x{i}"
    if kind == "Conv2D":
        assert cfg["padding"] == "same" and cfg["activation"] == "relu", cfg
        kernel, bias = layer_weights(name)
        k = kernel.shape[0]
        nodes.append(helper.make_node(
            "Conv", [x, init(f"{name}.w", kernel.transpose(3, 2, 0, 1)), init(f"{name}.b", bias)], [f"{y}c"],
            kernel_shape=[k, k], pads=[k // 2] * 4))
        nodes.append(helper.make_node("Relu", [f"{y}c"], [y]))
    elif kind == "MaxPooling2D":
        size = cfg["pool_size"]
        nodes.append(helper.make_node("MaxPool", [x], [y], kernel_shape=size, strides=cfg.get("strides") or size))
    elif kind == "Flatten":
        nodes.append(helper.make_node("Transpose", [x], [f"{y}t"], perm=[0, 2, 3, 1]))
        nodes.append(helper.make_node("Flatten", [f"{y}t"], [y], axis=1))
        nchw = False
    elif kind == "Dropout":
        continue  # identity at inference
    elif kind == "Dense":
        kernel, bias = layer_weights(name)
        out_name = "probabilities" if cfg["activation"] == "softmax" else y
        nodes.append(helper.make_node("Gemm", [x, init(f"{name}.w", kernel), init(f"{name}.b", bias)], [f"{y}g"]))
        activation = {"relu": "Relu", "softmax": "Softmax", "linear": "Identity"}[cfg["activation"]]
        extra = {"axis": 1} if activation == "Softmax" else {}
        nodes.append(helper.make_node(activation, [f"{y}g"], [out_name], **extra))
        y = out_name
    else:
        raise SystemExit(f"layer type {kind} is not handled by this stand-in converter")
    x = y

classes = layers[-1]["config"]["units"]
graph = helper.make_graph(
    nodes, "tfjs_sequential",
    [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", *shape[1:]])],
    [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["batch", classes])], inits)
model = helper.make_model(graph, producer_name="mscr bench tfjs_sequential_to_onnx.py",
                          opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, out)
print("ok")
