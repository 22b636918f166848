"""Writes a ResNet-50 (the torchvision architecture: 7x7 stem, bottleneck stages of 3, 4, 6
and 3 blocks, global average pool, 1000-way classifier with softmax) as an ONNX graph with
`onnx.helper`, weights drawn at random (He initialisation; no weights can be downloaded
here). NCHW float32 input [N, 3, 224, 224] with a dynamic batch, output `probabilities`
[N, 1000]. Batch normalisation is kept as BatchNormalization nodes, as exporters write it.

Why not PyTorch or Keras: the PyTorch wheel from PyPI pulls gigabytes of CUDA libraries, and
TensorFlow plus tf2onnx is a ~600 MB install for one test model; the graph is the same
operators an exporter writes (Conv, BatchNormalization, Relu, MaxPool, Add,
GlobalAveragePool, Flatten, Gemm, Softmax).

Usage: python build_resnet50.py <out.onnx> [--width-divisor K]  (K > 1: a slimmer net of the
same structure, channels divided by K, for quick runs)
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1]
divisor = int(sys.argv[sys.argv.index("--width-divisor") + 1]) if "--width-divisor" in sys.argv else 1
rng = np.random.default_rng(50)
nodes, inits = [], []
counter = [0]


def name(prefix):
    counter[0] += 1
    return f"{prefix}_{counter[0]}"


def weight(shape, fan_in):
    n = name("w")
    inits.append(numpy_helper.from_array((rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32), n))
    return n


def const(values):
    n = name("c")
    inits.append(numpy_helper.from_array(np.asarray(values, dtype=np.float32), n))
    return n


def conv_bn(x, cin, cout, k, stride, relu=True):
    w = weight([cout, cin, k, k], cin * k * k)
    y = name("conv")
    nodes.append(helper.make_node("Conv", [x, w], [y], kernel_shape=[k, k], strides=[stride, stride],
                                  pads=[k // 2] * 4))
    z = name("bn")
    nodes.append(helper.make_node(
        "BatchNormalization",
        [y, const(np.ones(cout)), const(np.zeros(cout)), const(rng.standard_normal(cout) * 0.01),
         const(np.ones(cout))],
        [z], epsilon=1e-5))
    if not relu:
        return z
    r = name("relu")
    nodes.append(helper.make_node("Relu", [z], [r]))
    return r


def bottleneck(x, cin, width, stride):
    cout = width * 4
    y = conv_bn(x, cin, width, 1, 1)
    y = conv_bn(y, width, width, 3, stride)
    y = conv_bn(y, width, cout, 1, 1, relu=False)
    shortcut = x if (stride == 1 and cin == cout) else conv_bn(x, cin, cout, 1, stride, relu=False)
    s = name("add")
    nodes.append(helper.make_node("Add", [y, shortcut], [s]))
    r = name("relu")
    nodes.append(helper.make_node("Relu", [s], [r]))
    return r, cout


c = lambda n: max(1, n // divisor)  # noqa: E731
x = conv_bn("input", 3, c(64), 7, 2)
p = name("pool")
nodes.append(helper.make_node("MaxPool", [x], [p], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]))
x, cin = p, c(64)
for blocks, width, stride in [(3, 64, 1), (4, 128, 2), (6, 256, 2), (3, 512, 2)]:
    for i in range(blocks):
        x, cin = bottleneck(x, cin, c(width), stride if i == 0 else 1)
nodes.append(helper.make_node("GlobalAveragePool", [x], ["gap"]))
nodes.append(helper.make_node("Flatten", ["gap"], ["flat"], axis=1))
fc_w = weight([1000, cin], cin)
nodes.append(helper.make_node("Gemm", ["flat", fc_w, const(np.zeros(1000))], ["logits"], transB=1))
nodes.append(helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1))

graph = helper.make_graph(
    nodes, "resnet50", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 224, 224])],
    [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 1000])], inits)
model = helper.make_model(graph, producer_name="mscr build_resnet50.py", opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, out)
params = sum(int(np.prod(t.dims)) for t in inits)
print(f"ok {params} parameters")
