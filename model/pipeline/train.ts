/**
 * The Model layer's pipeline: data -> features -> training -> evaluation -> versioned
 * export. One function, one options object; progress arrives as events.
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelManifest, ManifestDraft } from '../../connectors/ms/manifest.ts';
import type { ModelStore } from '../../connectors/store/index.ts';
import { validateModelName } from '../../connectors/ms/manifest.ts';
import { getArchitecture } from '../architectures/index.ts';
import {
  initBackend,
  type BackendInfo,
  type BackendPreference,
} from '../../runtime/backend/index.ts';
import { createRandom } from '../data/random.ts';
import { modelToFiles } from '../../connectors/ms/artifacts.ts';
import {
  fitModel,
  TrainingRun,
  type EpochProgress,
  type TrainingListener,
} from '../training/index.ts';
import type { DataOptions, TaskScore } from './task.ts';
import { taskFor } from './tasks.ts';

export interface TrainOptions extends Partial<Omit<DataOptions, 'sources'>> {
  /** Name the version is published under. */
  model: string;
  /** Builder to use; defaults to the model name (`cifar10-cnn`, `stock-lstm`, ...). */
  architecture?: string;
  /** Paths or URIs of the training data. */
  data: string[];
  store: ModelStore;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  /** Point this alias at the new version once it is published. */
  alias?: string;
  backend?: BackendPreference;
  onEvent?: TrainingListener;
}

export interface TrainResult {
  manifest: ModelManifest;
  score: TaskScore;
  backend: BackendInfo;
  history: EpochProgress[];
}

export async function trainModel(options: TrainOptions): Promise<TrainResult> {
  const name = validateModelName(options.model);
  const architecture = getArchitecture(options.architecture ?? name);
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
    const model = architecture.build(prepared.architectureInput);
    try {
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
        },
        data: { fingerprint: prepared.fingerprint, sources: prepared.sources },
      };
      const manifest = await options.store.publish(draft, await modelToFiles(model), {
        ...(options.alias ? { alias: options.alias } : {}),
      });
      run.transition(
        'completed',
        `published ${name} version ${manifest.version} to ${options.store.uri}`,
      );
      return { manifest, score, backend, history: run.history };
    } finally {
      model.dispose();
      tf.dispose([prepared.xTrain, prepared.yTrain, prepared.xTest, prepared.yTest]);
    }
  });
}
