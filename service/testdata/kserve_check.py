"""The kserve Python SDK's inference clients, used unchanged against mscr; prints one JSON report.

- InferenceRESTClient with protocol v1 (KServe V1 / TF Serving REST) and v2 (Open Inference
  Protocol): liveness, readiness, inference, and an error's text (the SDK shows it only when
  the error's Content-Type is exactly application/json).
- InferenceGRPCClient against the gRPC port.
- TF Serving's JSON under strict protobuf parsing (google.protobuf.json_format.Parse, which
  rejects unknown fields): the vendored official protos compiled here with grpcio-tools.

Usage: python kserve_check.py BASE_URL GRPC_HOST:PORT MODEL INPUT OUTPUT PROTO_DIR OUT_DIR
"""
import asyncio
import json
import os
import sys
import urllib.request

import httpx
import numpy as np
from grpc_tools import protoc
from kserve import (
    InferenceGRPCClient,
    InferenceRESTClient,
    InferInput,
    InferRequest,
    RESTConfig,
)

base, grpc_url, model, input_name, output_name, proto_dir, out_dir = sys.argv[1:]
report = {}


async def rest_v1():
    client = InferenceRESTClient(RESTConfig(protocol="v1"))
    report["v1_live"] = await client.is_server_live(base)
    report["v1_model_ready"] = await client.is_model_ready(base, model)
    out = await client.infer(base, {"instances": [[0.5, 0.5, 0.5, 0.5]]}, model_name=model)
    report["v1_predictions"] = out["predictions"]
    try:
        await client.infer(base, {"instances": [[0.5, 0.5]]}, model_name=model)
        report["v1_error"] = "no error"
    except httpx.HTTPStatusError as error:
        report["v1_error"] = str(error)
        report["v1_error_type"] = error.response.headers.get("content-type")
    await client.close()


async def rest_v2():
    client = InferenceRESTClient(RESTConfig(protocol="v2"))
    report["v2_live"] = await client.is_server_live(base)
    report["v2_ready"] = await client.is_server_ready(base)
    report["v2_model_ready"] = await client.is_model_ready(base, model)
    x = InferInput(name=input_name, shape=[1, 4], datatype="FP32")
    x.set_data_from_numpy(np.full((1, 4), 0.5, dtype=np.float32), binary_data=False)
    # No request id: the answer must carry one anyway.
    response = await client.infer(base, InferRequest(model_name=model, infer_inputs=[x]), model_name=model)
    report["v2_id"] = response.id
    report["v2_output"] = response.outputs[0].as_numpy().tolist()
    try:
        bad = InferInput(name="nope", shape=[1, 4], datatype="FP32")
        bad.set_data_from_numpy(np.zeros((1, 4), dtype=np.float32), binary_data=False)
        await client.infer(base, InferRequest(model_name=model, infer_inputs=[bad]), model_name=model)
        report["v2_error"] = "no error"
    except httpx.HTTPStatusError as error:
        report["v2_error"] = str(error)
    await client.close()


async def grpc_v2():
    client = InferenceGRPCClient(grpc_url)
    report["grpc_ready"] = await client.is_server_ready()
    report["grpc_model_ready"] = await client.is_model_ready(model)
    x = InferInput(name=input_name, shape=[2, 4], datatype="FP32")
    x.set_data_from_numpy(np.full((2, 4), 0.5, dtype=np.float32))
    response = await client.infer(InferRequest(model_name=model, infer_inputs=[x], request_id="kserve-grpc"))
    report["grpc_id"] = response.id
    report["grpc_output"] = response.outputs[0].as_numpy().tolist()
    await client.close()


def strict_tfserving():
    import grpc_tools

    os.makedirs(out_dir, exist_ok=True)
    files = [
        "tensorflow/core/framework/types.proto",
        "tensorflow/core/framework/resource_handle.proto",
        "tensorflow/core/framework/tensor_shape.proto",
        "tensorflow/core/framework/tensor.proto",
        "tensorflow/core/protobuf/error_codes.proto",
        "tensorflow/core/protobuf/meta_graph.proto",
        "tensorflow_serving/apis/model.proto",
        "tensorflow_serving/apis/status.proto",
        "tensorflow_serving/apis/get_model_metadata.proto",
        "tensorflow_serving/apis/get_model_status.proto",
    ]
    well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    code = protoc.main(["protoc", f"-I{proto_dir}", f"-I{well_known}", f"--python_out={out_dir}", *files])
    if code != 0:
        raise SystemExit(f"protoc failed with {code}")
    sys.path.insert(0, out_dir)
    from google.protobuf import json_format
    from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2, model_pb2

    def get(path):
        with urllib.request.urlopen(f"{base}{path}") as answer:
            return answer.read().decode()

    status = json_format.Parse(get(f"/v1/models/{model}"), get_model_status_pb2.GetModelStatusResponse())
    report["strict_status"] = [
        [s.version, get_model_status_pb2.ModelVersionStatus.State.Name(s.state)] for s in status.model_version_status
    ]
    metadata = json.loads(get(f"/v1/models/{model}/versions/1/metadata"))
    spec = json_format.Parse(json.dumps(metadata["model_spec"]), model_pb2.ModelSpec())
    signatures = json_format.Parse(
        json.dumps(metadata["metadata"]["signature_def"]), get_model_metadata_pb2.SignatureDefMap()
    )
    default = signatures.signature_def["serving_default"]
    report["strict_metadata"] = {
        "name": spec.name,
        "version": spec.version.value,
        "inputs": {k: [d.size for d in v.tensor_shape.dim] for k, v in default.inputs.items()},
        "outputs": sorted(default.outputs.keys()),
        "method": default.method_name,
    }


asyncio.run(rest_v1())
asyncio.run(rest_v2())
asyncio.run(grpc_v2())
strict_tfserving()
print(json.dumps(report))
