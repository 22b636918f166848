"""Writes a two-input, two-output ONNX model, built with the onnx helper API as a team outside
mscr would: inputs a [N, 3] and b [N, 2] (float32); outputs total = sum of a's row [N, 1]
and scaled = b x [10, 100] [N, 2]. Each output depends on one input only, so a test can tell
that every input reached the model under its own name and every output came back under its own.

Usage: python two_io_onnx.py OUT.onnx
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

a = helper.make_tensor_value_info("a", TensorProto.FLOAT, ["N", 3])
b = helper.make_tensor_value_info("b", TensorProto.FLOAT, ["N", 2])
total = helper.make_tensor_value_info("total", TensorProto.FLOAT, ["N", 1])
scaled = helper.make_tensor_value_info("scaled", TensorProto.FLOAT, ["N", 2])
axes = numpy_helper.from_array(np.array([1], dtype=np.int64), name="axes")
factors = numpy_helper.from_array(np.array([10, 100], dtype=np.float32), name="factors")
graph = helper.make_graph(
    [
        helper.make_node("ReduceSum", ["a", "axes"], ["total"], keepdims=1),
        helper.make_node("Mul", ["b", "factors"], ["scaled"]),
    ],
    "two_io",
    [a, b],
    [total, scaled],
    initializer=[axes, factors],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="two-io-test")
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, sys.argv[1])
