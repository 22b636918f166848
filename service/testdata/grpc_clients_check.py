"""Stock gRPC clients, used unchanged against mscr; prints one JSON report.

- tritonclient.grpc (Triton's Open Inference Protocol client): every RPC, raw tensors
  (its default), errors; and its generated stubs (service_pb2) for typed contents and for
  requests the high-level client never sends (lying raw sizes, both contents).
- TF Serving's Python API: the vendored official tensorflow_serving protos compiled here
  with grpcio-tools (what `tensorflow-serving-api` ships, without pulling in TensorFlow).
- The gRPC health protocol, compiled from the vendored grpc/health/v1/health.proto.

Usage: python grpc_clients_check.py HOST:PORT MODEL INPUT OUTPUT PROTO_DIR OUT_DIR
"""
import json
import os
import sys

import grpc
import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException
from grpc_tools import protoc

url, model, input_name, output_name, proto_dir, out_dir = sys.argv[1:]
report = {}


def code_of(error):
    if isinstance(error, InferenceServerException):
        return str(error.status()).replace("StatusCode.", "")
    return error.code().name


def expect_error(key, call):
    try:
        call()
        report[key] = {"code": "OK"}
    except (InferenceServerException, grpc.RpcError) as error:
        message = error.message() if isinstance(error, InferenceServerException) else error.details()
        report[key] = {"code": code_of(error), "message": message}


# --- tritonclient.grpc, high level ---------------------------------------------------
client = grpcclient.InferenceServerClient(url=url)
report["live"] = client.is_server_live()
report["ready"] = client.is_server_ready()
report["model_ready"] = client.is_model_ready(model)
report["server"] = client.get_server_metadata(as_json=True)
report["metadata"] = client.get_model_metadata(model, as_json=True)

x = np.full((2, 4), 0.5, dtype=np.float32)
inp = grpcclient.InferInput(input_name, [2, 4], "FP32")
inp.set_data_from_numpy(x)  # raw_input_contents
result = client.infer(model, [inp], outputs=[grpcclient.InferRequestedOutput(output_name)], request_id="stock-grpc")
response = result.get_response(as_json=True)
report["infer_raw"] = {
    "output": result.as_numpy(output_name).tolist(),
    "id": response["id"],
    "version": response["model_version"],
    "raw_outputs": len(result.get_response().raw_output_contents),
}
v1 = client.infer(model, [inp], model_version="1")
report["infer_version_1"] = v1.get_response(as_json=True)["model_version"]

# --- typed contents, through tritonclient's generated stubs --------------------------
channel = grpc.insecure_channel(url)
stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
typed = service_pb2.ModelInferRequest(model_name=model, id="typed")
tin = typed.inputs.add(name=input_name, datatype="FP32", shape=[1, 4])
tin.contents.fp32_contents.extend([0.5, 0.5, 0.5, 0.5])
typed_response = stub.ModelInfer(typed)
report["infer_typed"] = {
    "output": np.frombuffer(typed_response.raw_output_contents[0], dtype="<f4").tolist(),
    "shape": list(typed_response.outputs[0].shape),
    "id": typed_response.id,
}
tint = service_pb2.ModelInferRequest(model_name=model)
iin = tint.inputs.add(name=input_name, datatype="INT32", shape=[1, 4])
iin.contents.int_contents.extend([0, 1, 0, 1])
report["infer_typed_int32"] = list(
    np.frombuffer(stub.ModelInfer(tint).raw_output_contents[0], dtype="<f4").shape
)

# --- errors ------------------------------------------------------------------------------
expect_error("unknown_model", lambda: client.infer("no-such-model", [inp]))
expect_error("unknown_model_ready", lambda: client.is_model_ready("no-such-model"))
expect_error("unknown_version", lambda: client.infer(model, [inp], model_version="99"))
bad_version = service_pb2.ModelInferRequest(model_name=model, model_version="latest")
bad_version.inputs.add(name=input_name, datatype="FP32", shape=[1, 4])
bad_version.raw_input_contents.append(np.zeros((1, 4), np.float32).tobytes())
expect_error("bad_version_text", lambda: stub.ModelInfer(bad_version))
f64 = grpcclient.InferInput(input_name, [2, 4], "FP64")
f64.set_data_from_numpy(x.astype(np.float64))
expect_error("wrong_dtype", lambda: client.infer(model, [f64]))
wide = grpcclient.InferInput(input_name, [1, 5], "FP32")
wide.set_data_from_numpy(np.zeros((1, 5), np.float32))
expect_error("wrong_shape", lambda: client.infer(model, [wide]))
other = grpcclient.InferInput("nope", [2, 4], "FP32")
other.set_data_from_numpy(x)
expect_error("unknown_input", lambda: client.infer(model, [other]))
expect_error(
    "unknown_output",
    lambda: client.infer(model, [inp], outputs=[grpcclient.InferRequestedOutput("nope")]),
)
lying = service_pb2.ModelInferRequest(model_name=model)
lying.inputs.add(name=input_name, datatype="FP32", shape=[1, 4])
lying.raw_input_contents.append(b"\0" * 12)  # shape says 16 bytes
expect_error("lying_raw_size", lambda: stub.ModelInfer(lying))
huge_shape = service_pb2.ModelInferRequest(model_name=model)
huge_shape.inputs.add(name=input_name, datatype="FP32", shape=[2**40, 4])
huge_shape.raw_input_contents.append(b"\0" * 16)
expect_error("hostile_shape", lambda: stub.ModelInfer(huge_shape))
both = service_pb2.ModelInferRequest(model_name=model)
both_in = both.inputs.add(name=input_name, datatype="FP32", shape=[1, 4])
both_in.contents.fp32_contents.extend([0, 0, 0, 0])
both.raw_input_contents.append(b"\0" * 16)
expect_error("both_contents", lambda: stub.ModelInfer(both))
wrong_field = service_pb2.ModelInferRequest(model_name=model)
wf = wrong_field.inputs.add(name=input_name, datatype="FP32", shape=[1, 4])
wf.contents.int_contents.extend([0, 0, 0, 0])
expect_error("wrong_contents_field", lambda: stub.ModelInfer(wrong_field))
big = grpcclient.InferInput(input_name, [70000, 4], "FP32")  # 1.1 MB > the test's 1 MiB limit
big.set_data_from_numpy(np.zeros((70000, 4), np.float32))
expect_error("oversized", lambda: client.infer(model, [big]))
garbage = channel.unary_unary(
    "/inference.GRPCInferenceService/ModelInfer",
    request_serializer=lambda b: b,
    response_deserializer=lambda b: b,
)
expect_error("malformed", lambda: garbage(b"\xff\xff\xff\xff\x0f\x12"))
report["live_after_errors"] = client.is_server_live()
report["infer_after_errors"] = client.infer(model, [inp]).as_numpy(output_name).tolist()

# --- TF Serving's Python API, compiled from the vendored official protos ----------------
os.makedirs(out_dir, exist_ok=True)
files = [
    "tensorflow/core/framework/types.proto",
    "tensorflow/core/framework/tensor_shape.proto",
    "tensorflow/core/framework/resource_handle.proto",
    "tensorflow/core/framework/tensor.proto",
    "tensorflow/core/protobuf/error_codes.proto",
    "tensorflow/core/protobuf/meta_graph.proto",
    "tensorflow_serving/apis/model.proto",
    "tensorflow_serving/apis/predict.proto",
    "tensorflow_serving/apis/status.proto",
    "tensorflow_serving/apis/get_model_metadata.proto",
    "tensorflow_serving/apis/get_model_status.proto",
    "tensorflow_serving/apis/prediction_service.proto",
    "tensorflow_serving/apis/model_service.proto",
    "grpc/health/v1/health.proto",
]
import grpc_tools

well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
code = protoc.main(
    ["protoc", f"-I{proto_dir}", f"-I{well_known}", f"--python_out={out_dir}", f"--grpc_python_out={out_dir}", *files]
)
if code != 0:
    raise SystemExit(f"protoc failed with {code}")
sys.path.insert(0, out_dir)
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2  # noqa: E402
from tensorflow_serving.apis import (  # noqa: E402
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)
# The health proto's package is grpc.health.v1: let the installed grpc package find the
# generated grpc/health folder (grpcio-health-checking would ship the same module).
grpc.__path__.append(os.path.join(out_dir, "grpc"))
from grpc.health.v1 import health_pb2, health_pb2_grpc  # noqa: E402

tf = prediction_service_pb2_grpc.PredictionServiceStub(channel)
tf_models = model_service_pb2_grpc.ModelServiceStub(channel)


def tensor(values, shape, content=False):
    proto = tensor_pb2.TensorProto(
        dtype=types_pb2.DT_FLOAT,
        tensor_shape=tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in shape]
        ),
    )
    if content:
        proto.tensor_content = np.asarray(values, dtype="<f4").tobytes()
    else:
        proto.float_val.extend(values)
    return proto


def predict(values, shape, content=False, name=model, signature="serving_default", version=None):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = version
    request.inputs[input_name].CopyFrom(tensor(values, shape, content))
    return tf.Predict(request, timeout=30)


for content in (False, True):
    answer = predict([0.5] * 8, [2, 4], content)
    out = answer.outputs[output_name]
    report[f"tf_predict_content_{content}"] = {
        "values": list(out.float_val),
        "shape": [d.size for d in out.tensor_shape.dim],
        "dtype": types_pb2.DataType.Name(out.dtype),
        "version": answer.model_spec.version.value,
        "signature": answer.model_spec.signature_name,
    }
report["tf_predict_version_1"] = predict([0.5] * 4, [1, 4], version=1).model_spec.version.value
expect_error("tf_unknown_model", lambda: predict([0.5] * 4, [1, 4], name="no-such-model"))
expect_error("tf_bad_signature", lambda: predict([0.5] * 4, [1, 4], signature="classify"))
expect_error("tf_wrong_shape", lambda: predict([0.5] * 3, [1, 3]))
expect_error("tf_lying_content", lambda: tf.Predict(
    predict_pb2.PredictRequest(
        model_spec={"name": model},
        inputs={input_name: tensor_pb2.TensorProto(
            dtype=types_pb2.DT_FLOAT,
            tensor_shape=tensor_shape_pb2.TensorShapeProto(dim=[{"size": 1}, {"size": 4}]),
            tensor_content=b"\0" * 10,
        )},
    )
))
expect_error("tf_string_input", lambda: tf.Predict(
    predict_pb2.PredictRequest(
        model_spec={"name": model},
        inputs={input_name: tensor_pb2.TensorProto(
            dtype=types_pb2.DT_STRING,
            tensor_shape=tensor_shape_pb2.TensorShapeProto(dim=[{"size": 1}]),
            string_val=[b"hello"],
        )},
    )
))

meta_request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
meta_request.model_spec.name = model
meta = tf.GetModelMetadata(meta_request)
signatures = get_model_metadata_pb2.SignatureDefMap()
meta.metadata["signature_def"].Unpack(signatures)
sig = signatures.signature_def["serving_default"]
report["tf_metadata"] = {
    "version": meta.model_spec.version.value,
    "method": sig.method_name,
    "inputs": {
        k: {"name": v.name, "dtype": types_pb2.DataType.Name(v.dtype), "shape": [d.size for d in v.tensor_shape.dim]}
        for k, v in sig.inputs.items()
    },
    "outputs": sorted(sig.outputs.keys()),
}
status_request = get_model_status_pb2.GetModelStatusRequest()
status_request.model_spec.name = model
status = tf_models.GetModelStatus(status_request)
report["tf_status"] = [
    {
        "version": s.version,
        "state": get_model_status_pb2.ModelVersionStatus.State.Name(s.state),
        "error_code": s.status.error_code,
    }
    for s in status.model_version_status
]
missing_status = get_model_status_pb2.GetModelStatusRequest()
missing_status.model_spec.name = "no-such-model"
expect_error("tf_status_unknown", lambda: tf_models.GetModelStatus(missing_status))
expect_error("tf_classify_unimplemented", lambda: channel.unary_unary(
    "/tensorflow.serving.PredictionService/Classify",
    request_serializer=lambda b: b,
    response_deserializer=lambda b: b,
)(b""))

# --- gRPC health protocol ------------------------------------------------------------
health = health_pb2_grpc.HealthStub(channel)
names = health_pb2.HealthCheckResponse.ServingStatus.Name
report["health"] = {
    service: names(health.Check(health_pb2.HealthCheckRequest(service=service)).status)
    for service in ["", "inference.GRPCInferenceService", model]
}
expect_error("health_unknown", lambda: health.Check(health_pb2.HealthCheckRequest(service="nope")))
watch = health.Watch(health_pb2.HealthCheckRequest(service=model), timeout=10)
report["health_watch_first"] = names(next(watch).status)
watch.cancel()

print(json.dumps(report))
