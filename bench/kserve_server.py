"""The competitor of `npm run bench:compare` (bench/compare-bench.ts): the KServe Python model
server (pip `kserve`, pinned by the bench) on TensorFlow CPU, serving the SAME model mscr
serves over the Open Inference Protocol (V2 REST JSON), as a team would write it: a
`kserve.Model` subclass whose `predict` runs a Keras model.

Models:
  --tfjs DIR      a TF.js layers model folder (model.json + weight shards) of a Sequential of
                  Conv2D / MaxPooling2D / Flatten / Dropout / Dense layers (mscr's cifar10-cnn),
                  rebuilt as a Keras Sequential with the same weights (TF.js and Keras share the
                  kernel layouts: HWIO for Conv2D, [in, out] for Dense, NHWC flatten order);
  --resnet50      keras.applications.ResNet50(weights=None): the ResNet-50 architecture with
                  random weights (inference cost does not depend on them), taking the NCHW
                  [N, 3, 224, 224] input of the ONNX one mscr serves (transposed to NHWC here).

Modes:
  serve: python kserve_server.py serve --name M (--tfjs DIR | --resnet50) --http-port P
         [--workers N]   (KServe's own flags; prints `kserve ready` once the model is built)
  ceiling: python kserve_server.py ceiling (--tfjs DIR | --resnet50) --batches 1,32
         --seconds S     (TensorFlow alone in process, `model(x, training=False)` in a loop;
                          prints one JSON line per batch size)
"""
import argparse
import json
import os
import sys
import threading
import time
import uuid
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from importlib.metadata import version  # noqa: E402

from kserve import InferOutput, InferRequest, InferResponse, Model, ModelServer  # noqa: E402


def tfjs_weights(folder: Path, model_json: dict) -> dict:
    weights = {}
    for group in model_json["weightsManifest"]:
        data = b"".join((folder / p).read_bytes() for p in group["paths"])
        offset = 0
        for spec in group["weights"]:
            if spec["dtype"] != "float32":
                raise SystemExit(f"weight {spec['name']}: only float32 is handled, got {spec['dtype']}")
            count = int(np.prod(spec["shape"])) if spec["shape"] else 1
            weights[spec["name"]] = np.frombuffer(data, np.float32, count, offset).reshape(spec["shape"])
            offset += count * 4
    return weights


def keras_from_tfjs(folder: Path):
    import keras

    model_json = json.loads((folder / "model.json").read_text())
    topology = model_json["modelTopology"]
    config = topology.get("model_config", topology)["config"]
    layers = config["layers"] if isinstance(config, dict) else config
    weights = tfjs_weights(folder, model_json)
    first = layers[0]["config"]
    shape = first.get("batch_input_shape") or first.get("batchInputShape")
    model = keras.Sequential([keras.Input(shape=tuple(shape[1:]))])
    named = []
    for layer in layers:
        kind, cfg = layer["class_name"], layer["config"]
        if kind == "Conv2D":
            made = keras.layers.Conv2D(
                cfg["filters"], cfg["kernel_size"], strides=cfg.get("strides") or 1,
                padding=cfg["padding"], activation=cfg["activation"])
        elif kind == "MaxPooling2D":
            made = keras.layers.MaxPooling2D(cfg["pool_size"], strides=cfg.get("strides"),
                                             padding=cfg.get("padding", "valid"))
        elif kind == "Flatten":
            made = keras.layers.Flatten()
        elif kind == "Dropout":
            made = keras.layers.Dropout(cfg["rate"])
        elif kind == "Dense":
            made = keras.layers.Dense(cfg["units"], activation=cfg["activation"])
        else:
            raise SystemExit(f"layer type {kind} is not handled by this bench loader")
        model.add(made)
        named.append((cfg["name"], made))
    for name, made in named:
        if not made.weights:
            continue
        kernel = next(v for k, v in weights.items() if k.startswith(f"{name}/") and k.endswith("kernel"))
        bias = next(v for k, v in weights.items() if k.startswith(f"{name}/") and k.endswith("bias"))
        made.set_weights([kernel, bias])
    return model, "NHWC"


def resnet50():
    import keras

    return keras.applications.ResNet50(weights=None, classes=1000), "NCHW"


def build(args):
    if args.resnet50:
        return resnet50()
    if args.tfjs:
        return keras_from_tfjs(Path(args.tfjs))
    raise SystemExit("give --tfjs DIR or --resnet50")


def make_runner(model, layout):
    import tensorflow as tf

    # A traced function: what a team serving Keras in production does (model.predict per
    # request costs several milliseconds of Python overhead on its own).
    @tf.function(reduce_retracing=True)
    def run(x):
        return model(x, training=False)

    def predict(x: np.ndarray) -> np.ndarray:
        if layout == "NCHW":
            x = np.transpose(x, (0, 2, 3, 1))
        return run(tf.convert_to_tensor(x, dtype=tf.float32)).numpy()

    return predict


def ceiling(args):
    model, layout = build(args)
    predict = make_runner(model, layout)
    row = (3, 224, 224) if layout == "NCHW" else tuple(model.input_shape[1:])
    import tensorflow as tf

    for batch in [int(b) for b in args.batches.split(",")]:
        x = np.random.default_rng(1).random((batch, *row), dtype=np.float32)
        for _ in range(3):
            predict(x)
        rows, start = 0, time.perf_counter()
        while time.perf_counter() - start < args.seconds:
            predict(x)
            rows += batch
        elapsed = time.perf_counter() - start
        print(json.dumps({
            "engine": f"tensorflow {tf.__version__}", "batch": batch,
            "rowsPerSecond": round(rows / elapsed, 1),
            "intraOpThreads": tf.config.threading.get_intra_op_parallelism_threads(),
        }), flush=True)


class KerasModel(Model):
    """A V2 model on Keras. With `--workers N` KServe spawns N processes and pickles the
    model into each: only the arguments travel, and each process builds its own Keras model."""

    def __init__(self, name, args):
        super().__init__(name)
        self.args = args
        self.predict_fn = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["predict_fn"] = None
        state.pop("loaded", None)
        return state

    def __setstate__(self, state):
        # KServe's parent pings each child process and replaces it when no answer comes
        # within 5 s; importing TensorFlow and building the model takes longer than that on
        # a busy machine, so the child builds it in a thread and predict waits for it.
        self.__dict__.update(state)
        self.loaded = threading.Event()
        threading.Thread(target=self.load, daemon=True).start()

    def load(self):
        model, layout = build(self.args)
        self.predict_fn = make_runner(model, layout)
        row = (3, 224, 224) if layout == "NCHW" else tuple(model.input_shape[1:])
        self.predict_fn(np.zeros((1, *row), np.float32))  # trace and warm up
        self.ready = True
        if getattr(self, "loaded", None) is not None:
            self.loaded.set()
        return self.ready

    def predict(self, payload: InferRequest, headers=None, response_headers=None):
        if self.predict_fn is None:
            self.loaded.wait()
        x = payload.inputs[0].as_numpy().astype(np.float32, copy=False)
        y = self.predict_fn(x)
        output = InferOutput(name="probabilities", shape=list(y.shape), datatype="FP32")
        output.set_data_from_numpy(y, binary_data=False)
        return InferResponse(model_name=self.name, infer_outputs=[output], response_id=payload.id or str(uuid.uuid4()))


def serve(args, rest):
    model = KerasModel(args.name, args)
    model.load()
    # ModelServer reads its own flags (--http_port, --workers, ...) from sys.argv.
    sys.argv = [sys.argv[0], *rest]
    print(f"kserve {version('kserve')} ready", flush=True)
    ModelServer().start([model])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["serve", "ceiling"])
    parser.add_argument("--name", default="model")
    parser.add_argument("--tfjs")
    parser.add_argument("--resnet50", action="store_true")
    parser.add_argument("--batches", default="1,32")
    parser.add_argument("--seconds", type=float, default=5)
    args, rest = parser.parse_known_args()
    if args.mode == "ceiling":
        ceiling(args)
    else:
        serve(args, rest)


if __name__ == "__main__":
    main()
