/**
 * MR connector (Model -> Retraining): how the Retraining layer gets a candidate model made
 * and scored without knowing how training works. The Model layer implements `CandidateTrainer`;
 * the composition root (cli/) hands it to the retraining job. Publishing itself goes through
 * the `ModelStore` (claim, files, manifest last, alias), like every other publish.
 */
import type { ManifestDraft, ModelManifest, ModelTask } from '../ms/manifest.ts';

/** A detector's labelled example from production feedback: the image and all its boxes. */
export interface ExtraDetection {
  /** The image file as posted (JPEG, PNG, ...). */
  bytes: Uint8Array;
  /** Every object in it, `[x, y, width, height]` in the image's pixels, class by name. */
  boxes: { box: [number, number, number, number]; label: string }[];
  /** Where it came from, for messages (a feedback id). */
  source: string;
}

/** A labelled example that did not come from the data files: feedback from production. */
export interface ExtraImage {
  /** The image file as posted (JPEG, PNG, ...). */
  bytes: Uint8Array;
  /** Its true class, by name. */
  label: string;
  /** Where it came from, for messages (a feedback id). */
  source: string;
}

/**
 * A day fed back for a forecaster: the window the Service forecast from and the value that
 * came true the day after, in the data's units. Retraining adds it to the training windows.
 */
export interface ExtraWindow {
  /** Column names of `rows` (the serving version's columns). */
  columns: string[];
  /** The window, oldest row first. */
  rows: number[][];
  /** The target's true value the day after the window. */
  actual: number;
  /** Where it came from, for messages (a feedback id). */
  source: string;
}

export interface CandidateRequest {
  /** The model name the candidate would be published under. */
  model: string;
  /** Builder; default: the serving version's architecture, else the model name. */
  architecture?: string;
  /** Paths or URIs of the training data. */
  data: string[];
  /** Image classifiers: labelled feedback images, added to the data before the split. */
  extraImages?: ExtraImage[];
  /**
   * Detectors: images with their true boxes from feedback, added to the training split only
   * (the held-out images the gate judges on come from `data` alone, as for classifiers).
   */
  extraDetections?: ExtraDetection[];
  /** Forecasters: fed-back days, added to the training windows (never to the held-out tail). */
  extraWindows?: ExtraWindow[];
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  testFraction?: number;
  seed?: number;
  limit?: number;
  /** Start from these weights (the serving version) instead of a fresh initialisation. */
  startFrom?: { manifest: ModelManifest; files: Map<string, Uint8Array> };
  backend?: 'auto' | 'tensorflow' | 'wasm' | 'cpu';
  /** Progress for people: one line per stage or epoch. */
  onProgress?: (line: string) => void;
  /** Progress for programs: each finished epoch's training loss and metrics. */
  onEpoch?: (epoch: {
    epoch: number;
    epochs: number;
    loss: number;
    metrics: Record<string, number>;
  }) => void;
}

/** A trained, not yet published model, with its held-out split kept for comparisons. */
export interface Candidate {
  /** Everything the manifest needs except what publishing adds (version, files, time). */
  draft: ManifestDraft;
  files: Map<string, Uint8Array>;
  /** Its score on the held-out split. */
  metrics: Record<string, number>;
  /** What was loaded and how it was split, for the run record. */
  summary: string;
  /** Fingerprint of the training data (files and extra examples). */
  fingerprint: string;
  /** TF.js backend that trained it. */
  backend: string;
  /**
   * Scores another version (the one serving) on the candidate's own held-out split,
   * expressed with that version's preprocessing: the gate's like-for-like comparison.
   */
  scoreVersion(
    manifest: ModelManifest,
    files: Map<string, Uint8Array>,
  ): Promise<Record<string, number>>;
  /** Frees the tensors it holds. */
  dispose(): void;
}

export interface CandidateTrainer {
  train(request: CandidateRequest): Promise<Candidate>;
}

/** The metric the gate compares by default, per task, and which way is better. */
export const PRIMARY_METRIC: Record<ModelTask, { metric: string; higherIsBetter: boolean }> = {
  'image-classification': { metric: 'accuracy', higherIsBetter: true },
  'series-forecast': { metric: 'rmse', higherIsBetter: false },
  regression: { metric: 'rmse', higherIsBetter: false },
  // Imported kinds: mscr does not train these; the entries let a gate compare recorded metrics.
  'tabular-classification': { metric: 'accuracy', higherIsBetter: true },
  'object-detection': { metric: 'map', higherIsBetter: true },
  raw: { metric: 'loss', higherIsBetter: false },
};
