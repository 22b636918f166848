/** The Python of the model-building tools (scikit-learn, XGBoost, onnx, converters), pinned by scripts/setup-python.mjs. */
export const ML_PYTHON = new URL('../.tools/venv-ml/bin/python', import.meta.url).pathname;
/** The Python with pycocotools, the reference for the COCO detection metrics. */
export const EVAL_PYTHON = new URL('../.tools/venv-eval/bin/python', import.meta.url).pathname;
