/**
 * SC connector: mscr's own answers, for a person with curl (post an image, get labels with
 * scores; post a CSV window, get a forecast in the data's units), and the error body every
 * endpoint of every protocol uses.
 */

/** Every error, on every route: `{"error": "..."}` with a 4xx or 5xx status (TF Serving and V2 agree). */
export interface ErrorResponse {
  error: string;
}

/** One class and its probability. */
export interface LabelScore {
  label: string;
  score: number;
}

/** `POST /mscr/models/{m}[/versions/{v}]/classify` with image bytes. */
export interface ClassifyResponse {
  model: string;
  version: number;
  /** Per image posted (one for a single file), the top classes, best first. */
  predictions: LabelScore[][];
  /** Per image, the id to send feedback about (`POST /mscr/models/{m}/feedback`). */
  predictionIds: string[];
}

/** One object found in an image: its box in the posted image's pixels, its class and score. */
export interface Detection {
  /** `[x, y, width, height]`: the top-left corner and size, in the posted image's pixels. */
  box: [number, number, number, number];
  label: string;
  classIndex: number;
  /** The box's score for its class, 0..1 (objectness x class probability for YOLOv5-style heads). */
  score: number;
}

/**
 * `POST /mscr/models/{m}[/versions/{v}]/detect` with image bytes (raw or multipart):
 * the boxes of one image, best first, after non-maximum suppression.
 */
export interface DetectResponse {
  /** The prediction id, to send corrected boxes about (`POST /mscr/models/{m}/feedback`). */
  id: string;
  model: string;
  version: number;
  /** The posted image's size (upright), the space the boxes are in. */
  image: { width: number; height: number };
  detections: Detection[];
}

/** `POST /mscr/models/{m}[/versions/{v}]/forecast` with a CSV window. */
export interface ForecastResponse {
  model: string;
  version: number;
  /** The column forecast, e.g. `Close`. */
  target: string;
  /** One value per window, in the column's original units (a price, not a scaled value). */
  forecast: number[];
  /** Per window, the id to send feedback about (the true value, once known). */
  predictionIds: string[];
}

/** One row's prediction: a class with its probabilities (classifiers) or a value (regressors). */
export type TabularPrediction =
  | { label: string; probabilities: Record<string, number> }
  | { value: number }
  | { values: number[] };

/**
 * `POST /mscr/models/{m}[/versions/{v}]/predict` with `{"rows": [{feature: value}]}` or a CSV
 * with a header row: one prediction per row, in order.
 */
export interface TabularResponse {
  model: string;
  version: number;
  predictions: TabularPrediction[];
  /** Per row, the id to send feedback about. */
  predictionIds: string[];
}

/**
 * The life of one served version, as the model status endpoint and metrics show it. TF
 * Serving's states, plus `FAILED` (a load that did not succeed; TF Serving reports it as `END`
 * with an error status, and so does the V1 status endpoint).
 */
export type VersionState = 'START' | 'LOADING' | 'AVAILABLE' | 'UNLOADING' | 'END' | 'FAILED';

export interface VersionStateReport {
  version: number;
  state: VersionState;
  /** Why the version failed or ended abnormally. */
  error?: string;
}
