/**
 * What differs between kinds of model (image classification, series forecasting) is a
 * `Task`: how data is loaded and turned into tensors, how the model is compiled, and how it
 * is scored. The pipeline around it (states, training loop, export, publish) is shared.
 */
import type * as tf from '@tensorflow/tfjs';
import type {
  ModelManifest,
  ModelTask,
  PredictionReference,
  PreprocessingSpec,
  TensorSpec,
} from '../../connectors/ms/manifest.ts';
import type { ExtraDetection, ExtraImage, ExtraWindow } from '../../connectors/mr/index.ts';
import type { DetectionSpec } from '../../connectors/ms/detection/index.ts';
import type { ArchitectureInput } from '../architectures/index.ts';
import type { BatchAugmentation } from '../training/index.ts';

export interface DataOptions {
  /** Paths or URIs of the data. */
  sources: string[];
  /** Held-out fraction (a stratified split for images, the chronological tail for series). */
  testFraction: number;
  seed: number;
  /** Use at most this many samples (quick runs and tests). */
  limit?: number;
  // image classification
  imageSize?: { height: number; width: number };
  normalization?: 'rescale' | 'standardize';
  augment?: string[];
  // series forecasting
  window?: number;
  target?: string;
  /** Image classifiers: labelled examples from production feedback, added before the split. */
  extraImages?: readonly ExtraImage[];
  /** Forecasters: fed-back days, added to the training windows only (see feedback-windows.ts). */
  extraWindows?: readonly ExtraWindow[];
  /** Detectors: feedback images with their true boxes, added to the training split only. */
  extraDetections?: readonly ExtraDetection[];
}

/** Tensors ready for training plus everything the manifest records about them. */
export interface PreparedData {
  xTrain: tf.Tensor;
  yTrain: tf.Tensor;
  xTest: tf.Tensor;
  yTest: tf.Tensor;
  architectureInput: ArchitectureInput;
  preprocessing: PreprocessingSpec;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  labels?: string[];
  /** Detectors: how the output is read as boxes (the manifest's `detection`). */
  detection?: DetectionSpec;
  augment?: BatchAugmentation;
  augmentation?: string[];
  fingerprint: string;
  sources: string[];
  /** One line for people: what was loaded and how it was split. */
  summary: string;
  /**
   * The held-out split before any fitted preprocessing (pixels, raw rows), so another
   * version can be scored on exactly these samples with its own preprocessing.
   */
  heldOut: HeldOut;
}

/** A task's raw held-out split; only its own task reads it. */
export type HeldOut = { readonly kind: string };

/** Evaluation data prepared with a published version's own preprocessing. */
export interface EvaluationData {
  x: tf.Tensor;
  y: tf.Tensor;
  summary: string;
}

export interface TaskScore {
  /** Flat numbers for the manifest and for the retraining gate. */
  metrics: Record<string, number>;
  reference: PredictionReference;
  /** The full report for people (confusion matrix, baseline, ...). */
  report: ClassifierReport | ForecastReport | DetectorReport;
}

export interface ClassifierReport {
  kind: 'classification';
  accuracy: number;
  macroF1: number;
  labels: string[];
  confusion: number[][];
  perClass: { label: string; precision: number; recall: number; f1: number; support: number }[];
  samples: number;
}

export interface ForecastReport {
  kind: 'forecast';
  target: string;
  rmse: number;
  mae: number;
  mape: number;
  /** The naive forecast "tomorrow = today" on the same held-out days. */
  naive: { rmse: number; mae: number; mape: number };
  samples: number;
}

/** COCO-style detection metrics on held-out images (see model/evaluation/detection.ts). */
export interface DetectorReport {
  kind: 'detection';
  /** mAP over IoU 0.5:0.95 (COCO's headline AP). */
  map: number;
  /** mAP at IoU 0.5. */
  map50: number;
  /** Per class: AP at 0.5, AP over 0.5:0.95, true boxes, detections scored. */
  classes: Record<string, { ap50: number; ap: number; truths: number; detections: number }>;
  images: number;
  objects: number;
  /** Boxes scoring below this were not counted (COCO evaluations keep nearly all boxes). */
  scoreThreshold: number;
}

/** A loss by TF.js name, or a function of (targets, predictions) giving a loss per sample. */
export type TaskLoss = string | ((yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor);

export interface Task {
  task: ModelTask;
  loss: TaskLoss;
  trainingMetrics: string[];
  prepare(options: DataOptions): Promise<PreparedData>;
  /** The raw held-out split, expressed with a (possibly other) version's preprocessing. */
  expressHeldOut(heldOut: HeldOut, manifest: ModelManifest): EvaluationData;
  /** Loads data for an already published version, with its manifest's preprocessing. */
  prepareEvaluation(
    manifest: ModelManifest,
    options: Pick<DataOptions, 'sources' | 'limit'>,
  ): Promise<EvaluationData>;
  score(
    model: tf.LayersModel,
    x: tf.Tensor,
    y: tf.Tensor,
    manifest: Pick<ModelManifest, 'labels' | 'preprocessing' | 'detection'>,
  ): Promise<TaskScore>;
}
