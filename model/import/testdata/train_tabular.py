"""Trains real scikit-learn and XGBoost models on the tables scikit-learn ships (breast cancer,
diabetes), converts them to ONNX with the maintained converters (skl2onnx, onnxmltools), and
writes, per model, `<name>.onnx` and `<name>.json`: the held-out rows keyed by feature name and
Python's own predictions on them, for the mscr import tests to compare against.

Usage: python train_tabular.py <output folder>
"""
import json
import sys
from pathlib import Path

import numpy as np
import onnxmltools
import skl2onnx
import xgboost
from onnxmltools.convert.common.data_types import FloatTensorType as MlFloatTensorType
from skl2onnx.common.data_types import FloatTensorType
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
HELD_OUT = 40


def table(loader):
    data = loader()
    # float32 is what the ONNX models compute in; compare on the same numbers.
    x = data.data.astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(
        x, data.target, test_size=HELD_OUT, random_state=7
    )
    return list(data.feature_names), x_train, x_test, y_train, y_test


def write(name, onx, features, x_test, predictions, extra=None):
    (out / f"{name}.onnx").write_bytes(onx.SerializeToString())
    rows = [{f: float(v) for f, v in zip(features, row)} for row in x_test]
    record = {"features": features, "rows": rows, "predictions": predictions, **(extra or {})}
    (out / f"{name}.json").write_text(json.dumps(record))


def classifier_predictions(model, x_test):
    labels = model.predict(x_test)
    probabilities = model.predict_proba(x_test)
    return [
        {"label": str(int(label)), "probabilities": [float(p) for p in row]}
        for label, row in zip(labels, probabilities)
    ]


# Breast cancer: a scaled logistic regression, a random forest, and XGBoost.
features, x_train, x_test, y_train, y_test = table(load_breast_cancer)
n = len(features)
for name, model in [
    ("logistic", make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))),
    ("forest", RandomForestClassifier(n_estimators=30, max_depth=6, random_state=7)),
]:
    model.fit(x_train, y_train)
    onx = skl2onnx.to_onnx(
        model,
        initial_types=[("input", FloatTensorType([None, n]))],
        # Tensors out, not a sequence of maps: [label, probabilities].
        options={id(model) if name == "forest" else id(model.steps[-1][1]): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    write(name, onx, features, x_test, classifier_predictions(model, x_test),
          {"accuracy": float(model.score(x_test, y_test))})

# The converter's default for classifiers: probabilities as a sequence of maps (ZipMap), which
# mscr cannot serve; the import test checks that it is refused with the fix in the message.
zipmap = LogisticRegression(max_iter=2000).fit(x_train, y_train)
(out / "zipmap.onnx").write_bytes(
    skl2onnx.to_onnx(zipmap, initial_types=[("input", FloatTensorType([None, n]))],
                     target_opset={"": 17, "ai.onnx.ml": 3}).SerializeToString()
)

booster = xgboost.XGBClassifier(n_estimators=40, max_depth=4, learning_rate=0.2, random_state=7)
booster.fit(x_train, y_train)
onx = onnxmltools.convert_xgboost(
    booster, initial_types=[("input", MlFloatTensorType([None, n]))], target_opset=15
)
write("xgboost", onx, features, x_test, classifier_predictions(booster, x_test))

# Diabetes: a ridge regression and an XGBoost regressor.
features, x_train, x_test, y_train, y_test = table(load_diabetes)
n = len(features)
ridge = Ridge(alpha=0.5).fit(x_train, y_train)
onx = skl2onnx.to_onnx(
    ridge, initial_types=[("input", FloatTensorType([None, n]))], target_opset={"": 17, "ai.onnx.ml": 3}
)
write("ridge", onx, features, x_test, [{"value": float(v)} for v in ridge.predict(x_test)])

regressor = xgboost.XGBRegressor(n_estimators=40, max_depth=3, learning_rate=0.2, random_state=7)
regressor.fit(x_train, y_train)
onx = onnxmltools.convert_xgboost(
    regressor, initial_types=[("input", MlFloatTensorType([None, n]))], target_opset=15
)
write("xgbregressor", onx, features, x_test, [{"value": float(v)} for v in regressor.predict(x_test)])
print("ok")
