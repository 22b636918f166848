/**
 * Training without publishing: a candidate model, scored on its held-out split, that can
 * also score another version on that same split. `trainModel` publishes one at once; the
 * retraining job (through the MR connector) first compares it with the serving version.
 */
import * as tf from '@tensorflow/tfjs';
import { MscrError } from '../../connectors/errors.ts';
import type { Candidate, CandidateTrainer } from '../../connectors/mr/index.ts';
import { modelFromFiles, modelToFiles } from '../../connectors/ms/artifacts.ts';
import { verifiedOnnxForm } from '../export/onnx/index.ts';
import type { ManifestDraft, ModelManifest, ModelTask } from '../../connectors/ms/manifest.ts';
import { validateModelName } from '../../connectors/ms/manifest.ts';
import {
  initBackend,
  type BackendInfo,
  type BackendPreference,
} from '../../runtime/backend/index.ts';
import { architectureFor } from '../architectures/index.ts';
import { createRandom } from '../data/random.ts';
import {
  fitModel,
  TrainingRun,
  type EpochProgress,
  type TrainingListener,
} from '../training/index.ts';
import type { DataOptions, TaskScore } from './task.ts';
import { taskFor } from './tasks.ts';

export interface CandidateOptions extends Partial<Omit<DataOptions, 'sources'>> {
  model: string;
  architecture?: string;
  /** The kind of model; without `architecture`, its default builder (e.g. grid-detector). */
  task?: ModelTask;
  data: string[];
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  backend?: BackendPreference;
  /** Start from a published version's weights (same architecture, same classes). */
  startFrom?: { manifest: ModelManifest; files: Map<string, Uint8Array> };
  /**
   * Also publish an ONNX form (`model.onnx`, checked against TF.js on held-out inputs), so
   * `mscr serve --engine auto` runs the version on ONNX Runtime. Default true.
   */
  onnx?: boolean;
  onEvent?: TrainingListener;
}

/** A candidate with the full report, for the CLI; `toConnector` gives the MR view. */
export interface TrainedCandidate {
  draft: ManifestDraft;
  files: Map<string, Uint8Array>;
  score: TaskScore;
  summary: string;
  backend: BackendInfo;
  history: EpochProgress[];
  scoreVersion(manifest: ModelManifest, files: Map<string, Uint8Array>): Promise<TaskScore>;
  dispose(): void;
}

/**
 * Adds the verified ONNX form to the version's files and manifest draft, unless turned off.
 * Returns what happened, for the run's log: a form that cannot be made or does not match
 * TF.js is left out and the version serves on TF.js.
 */
async function addOnnxForm(
  model: tf.LayersModel,
  draft: ManifestDraft,
  files: Map<string, Uint8Array>,
  heldOut: tf.Tensor,
  wanted: boolean | undefined,
): Promise<string | undefined> {
  if (wanted === false) return undefined;
  const form = await verifiedOnnxForm(model, draft, heldOut);
  if (!form.ok) return `no ONNX form (${form.reason})`;
  files.set(form.file, form.bytes);
  draft.artifacts = { ...draft.artifacts, onnx: form.artifact };
  return `ONNX form ${form.file} matches TF.js within ${form.maxAbsDiff.toExponential(1)}`;
}

/** Builds the starting model: fresh, or the given version's weights when they fit. */
async function initialModel(
  options: CandidateOptions,
  build: () => tf.LayersModel,
  labels: string[] | undefined,
): Promise<tf.LayersModel> {
  const start = options.startFrom;
  if (start === undefined) return build();
  const fresh = build();
  const previous = await modelFromFiles(start.files);
  const sameClasses =
    JSON.stringify(start.manifest.labels ?? null) === JSON.stringify(labels ?? null);
  const sameShapes =
    JSON.stringify(fresh.inputs.map((i) => i.shape)) ===
      JSON.stringify(previous.inputs.map((i) => i.shape)) &&
    JSON.stringify(fresh.outputs.map((o) => o.shape)) ===
      JSON.stringify(previous.outputs.map((o) => o.shape));
  if (!sameClasses || !sameShapes) {
    previous.dispose();
    fresh.dispose();
    throw new MscrError(
      'bad_data',
      `cannot start from version ${start.manifest.version} of ${start.manifest.name}: its ${sameClasses ? 'input or output shapes' : 'classes'} differ from the new data's; train from scratch instead`,
    );
  }
  fresh.dispose();
  return previous;
}

export async function trainCandidate(options: CandidateOptions): Promise<TrainedCandidate> {
  const name = validateModelName(options.model);
  const architecture = architectureFor({
    name: options.architecture ?? options.startFrom?.manifest.architecture,
    task: options.task,
    model: name,
  });
  const task = taskFor(architecture.task);
  const epochs = options.epochs ?? architecture.defaults.epochs;
  const batchSize = options.batchSize ?? architecture.defaults.batchSize;
  const learningRate = options.learningRate ?? architecture.defaults.learningRate;
  const seed = options.seed ?? 42;
  const run = new TrainingRun();
  if (options.onEvent) run.on(options.onEvent);

  return run.guard(async () => {
    const backend = await initBackend(options.backend ?? 'auto');
    run.transition('loading-data', options.data.join(', '));
    const prepared = await task.prepare({
      ...options,
      sources: options.data,
      seed,
      testFraction: options.testFraction ?? 0.2,
    });
    let model: tf.LayersModel | undefined;
    try {
      model = await initialModel(
        options,
        () => architecture.build(prepared.architectureInput),
        prepared.labels,
      );
      model.compile({
        optimizer: tf.train.adam(learningRate),
        loss: task.loss,
        metrics: task.trainingMetrics,
      });
      run.transition('training', `${architecture.name} on ${backend.name}: ${prepared.summary}`);
      const started = performance.now();
      await fitModel(model, {
        x: prepared.xTrain,
        y: prepared.yTrain,
        epochs,
        batchSize,
        random: createRandom(seed),
        run,
        ...(prepared.augment ? { augment: prepared.augment } : {}),
      });
      const durationMs = Math.round(performance.now() - started);

      run.transition('evaluating', `${prepared.xTest.shape[0]} held-out samples`);
      const score = await task.score(model, prepared.xTest, prepared.yTest, prepared);
      const draft: ManifestDraft = {
        name,
        framework: { name: 'tfjs', version: tf.version.tfjs, format: 'layers-model' },
        task: architecture.task,
        architecture: architecture.name,
        inputs: prepared.inputs,
        outputs: prepared.outputs,
        ...(prepared.labels ? { labels: prepared.labels } : {}),
        ...(prepared.detection ? { detection: prepared.detection } : {}),
        preprocessing: prepared.preprocessing,
        metrics: score.metrics,
        reference: score.reference,
        training: {
          epochs,
          batchSize,
          learningRate,
          trainSamples: prepared.xTrain.shape[0] as number,
          testSamples: prepared.xTest.shape[0] as number,
          backend: backend.name,
          durationMs,
          seed,
          finalLoss: run.history.at(-1)?.loss ?? null,
          ...(prepared.augmentation ? { augmentation: prepared.augmentation } : {}),
          ...(options.startFrom ? { startedFrom: options.startFrom.manifest.version } : {}),
        },
        data: { fingerprint: prepared.fingerprint, sources: prepared.sources },
      };
      const files = await modelToFiles(model);
      const onnxNote = await addOnnxForm(model, draft, files, prepared.xTest, options.onnx);
      run.transition(
        'completed',
        `trained ${name}: ${JSON.stringify(score.metrics)}${onnxNote ? `; ${onnxNote}` : ''}`,
      );
      tf.dispose([prepared.xTrain, prepared.yTrain, prepared.xTest, prepared.yTest]);
      return {
        draft,
        files,
        score,
        summary: prepared.summary,
        backend,
        history: run.history,
        async scoreVersion(manifest, versionFiles) {
          const other = await modelFromFiles(versionFiles);
          const data = taskFor(manifest.task).expressHeldOut(prepared.heldOut, manifest);
          try {
            return await taskFor(manifest.task).score(other, data.x, data.y, manifest);
          } finally {
            other.dispose();
            tf.dispose([data.x, data.y]);
          }
        },
        dispose() {
          // The held-out split is plain arrays; the tensors went above. Nothing else to free.
        },
      };
    } catch (error) {
      tf.dispose([prepared.xTrain, prepared.yTrain, prepared.xTest, prepared.yTest]);
      throw error;
    } finally {
      model?.dispose();
    }
  });
}

/** The Model layer's side of the MR connector. */
export function createCandidateTrainer(): CandidateTrainer {
  return {
    async train(request): Promise<Candidate> {
      const trained = await trainCandidate({
        model: request.model,
        data: request.data,
        ...(request.architecture ? { architecture: request.architecture } : {}),
        ...(request.extraImages ? { extraImages: request.extraImages } : {}),
        ...(request.extraWindows ? { extraWindows: request.extraWindows } : {}),
        ...(request.extraDetections ? { extraDetections: request.extraDetections } : {}),
        ...(request.epochs ? { epochs: request.epochs } : {}),
        ...(request.batchSize ? { batchSize: request.batchSize } : {}),
        ...(request.learningRate ? { learningRate: request.learningRate } : {}),
        ...(request.testFraction ? { testFraction: request.testFraction } : {}),
        ...(request.seed !== undefined ? { seed: request.seed } : {}),
        ...(request.limit ? { limit: request.limit } : {}),
        ...(request.startFrom ? { startFrom: request.startFrom } : {}),
        ...(request.backend ? { backend: request.backend } : {}),
        ...(request.onProgress || request.onEpoch
          ? {
              onEvent: (event) => {
                if (event.type === 'state' && event.detail)
                  request.onProgress?.(`${event.state}: ${event.detail}`);
                else if (event.type === 'epoch') {
                  request.onProgress?.(
                    `epoch ${event.epoch}/${event.epochs}: loss ${event.loss.toFixed(4)}`,
                  );
                  request.onEpoch?.({
                    epoch: event.epoch,
                    epochs: event.epochs,
                    loss: event.loss,
                    metrics: event.metrics,
                  });
                }
              },
            }
          : {}),
      });
      return {
        draft: trained.draft,
        files: trained.files,
        metrics: trained.score.metrics,
        summary: trained.summary,
        fingerprint: trained.draft.data.fingerprint,
        backend: trained.backend.name,
        scoreVersion: async (manifest, files) =>
          (await trained.scoreVersion(manifest, files)).metrics,
        dispose: () => trained.dispose(),
      };
    },
  };
}
