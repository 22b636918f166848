"""A stock Open Inference Protocol client (tritonclient.http), used unchanged against mscr.

Usage: python tritonclient_check.py HOST:PORT MODEL INPUT OUTPUT DIM... ; prints one JSON line.
"""
import json
import sys

import numpy as np
import tritonclient.http as httpclient

url, model, input_name, output_name, *dims = sys.argv[1:]
shape = [1] + [int(d) for d in dims]
client = httpclient.InferenceServerClient(url=url)
report = {
    "live": client.is_server_live(),
    "ready": client.is_server_ready(),
    "model_ready": client.is_model_ready(model),
    "metadata": client.get_model_metadata(model),
    "server": client.get_server_metadata(),
}
x = np.full(shape, 0.5, dtype=np.float32)
for binary in (False, True):  # True is set_data_from_numpy's default
    inp = httpclient.InferInput(input_name, shape, "FP32")
    inp.set_data_from_numpy(x, binary_data=binary)
    out = httpclient.InferRequestedOutput(output_name, binary_data=binary)
    result = client.infer(model, [inp], outputs=[out], request_id="stock-client")
    report[f"binary_{binary}"] = {
        "output": result.as_numpy(output_name).tolist(),
        "id": result.get_response()["id"],
        "version": result.get_response()["model_version"],
    }
print(json.dumps(report))
