/** `mscr train` and `mscr evaluate`: the Model layer's pipeline from the command line. */
import type { Command } from 'commander';
import { openStore } from '../connectors/store/index.ts';
import type { ModelTask } from '../connectors/ms/manifest.ts';
import { DEFAULT_ARCHITECTURE, listArchitectures } from '../model/architectures/index.ts';
import { evaluateModel, trainModel, type TaskScore } from '../model/pipeline/index.ts';
import type { BackendPreference } from '../runtime/backend/index.ts';
import {
  collectList,
  DEFAULT_STORE,
  fraction,
  imageSize,
  oneOf,
  positiveInt,
  positiveNumber,
  versionRef,
} from './options.ts';
import { localData } from './data-uris.ts';
import { formatTable, percent, printJson } from './output.ts';
import { progressReporter } from './progress.ts';
import {
  addRemoteTrainOptions,
  evaluateRemote,
  serviceUrl,
  trainRemote,
  type RemoteTrainFlags,
} from './train-remote.ts';
import { MscrError } from '../connectors/errors.ts';

const BACKENDS = ['auto', 'tensorflow', 'wasm', 'cpu'] as const;
const TRAINABLE_TASKS = Object.keys(DEFAULT_ARCHITECTURE) as ModelTask[];

export interface TrainFlags {
  model: string;
  arch?: string;
  task?: ModelTask;
  data: string[];
  store: string;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  testFraction?: number;
  normalization?: 'rescale' | 'standardize';
  augment?: string[];
  window?: number;
  target?: string;
  imageSize?: { height: number; width: number };
  limit?: number;
  seed?: number;
  alias?: string;
  backend: BackendPreference;
  /** false with --no-onnx. */
  onnx: boolean;
  json?: boolean;
  quiet?: boolean;
}

/** The score as lines for people: accuracy and the confusion matrix, or RMSE beside the naive forecast. */
export function formatScore(score: TaskScore): string {
  const report = score.report;
  if (report.kind === 'forecast') {
    const gain = report.naive.rmse > 0 ? (1 - report.rmse / report.naive.rmse) * 100 : 0;
    return [
      `${report.samples} held-out forecasts of ${report.target}:`,
      formatTable(
        ['FORECAST', 'RMSE', 'MAE', 'MAPE'],
        [
          ['model', report.rmse.toFixed(3), report.mae.toFixed(3), `${report.mape.toFixed(2)} %`],
          [
            'naive (tomorrow = today)',
            report.naive.rmse.toFixed(3),
            report.naive.mae.toFixed(3),
            `${report.naive.mape.toFixed(2)} %`,
          ],
        ],
      ),
      `the model's RMSE is ${Math.abs(gain).toFixed(1)} % ${gain >= 0 ? 'below' : 'above'} the naive forecast's`,
    ].join('\n');
  }
  if (report.kind === 'detection') {
    return [
      `mAP@0.5:0.95 ${report.map.toFixed(3)}, mAP@0.5 ${report.map50.toFixed(3)} on ${report.images} held-out images (${report.objects} objects; COCO evaluation)`,
      '',
      formatTable(
        ['CLASS', 'AP@0.5', 'AP@0.5:0.95', 'OBJECTS', 'DETECTIONS'],
        Object.entries(report.classes).map(([label, c]) => [
          label,
          c.ap50.toFixed(3),
          c.ap.toFixed(3),
          String(c.truths),
          String(c.detections),
        ]),
      ),
    ].join('\n');
  }
  const short = (label: string) => label.slice(0, 6);
  return [
    `accuracy ${percent(report.accuracy)} on ${report.samples} samples (chance: ${percent(1 / report.labels.length)}), macro F1 ${report.macroF1.toFixed(3)}`,
    '',
    formatTable(
      ['CLASS', 'PRECISION', 'RECALL', 'F1', 'SUPPORT'],
      report.perClass.map((c) => [
        c.label,
        c.precision.toFixed(3),
        c.recall.toFixed(3),
        c.f1.toFixed(3),
        String(c.support),
      ]),
    ),
    '',
    'confusion matrix (rows: true class, columns: predicted class)',
    formatTable(
      ['', ...report.labels.map(short)],
      report.confusion.map((row, i) => [short(report.labels[i] ?? ''), ...row.map(String)]),
    ),
  ].join('\n');
}

export async function runTrain(flags: TrainFlags) {
  const store = openStore(flags.store);
  const data = await localData(flags.data);
  const result = await trainModel({
    model: flags.model,
    ...(flags.arch ? { architecture: flags.arch } : {}),
    ...(flags.task ? { task: flags.task } : {}),
    data: data.paths,
    store,
    ...(flags.epochs ? { epochs: flags.epochs } : {}),
    ...(flags.batchSize ? { batchSize: flags.batchSize } : {}),
    ...(flags.learningRate ? { learningRate: flags.learningRate } : {}),
    ...(flags.testFraction ? { testFraction: flags.testFraction } : {}),
    ...(flags.normalization ? { normalization: flags.normalization } : {}),
    ...(flags.augment?.length ? { augment: flags.augment } : {}),
    ...(flags.window ? { window: flags.window } : {}),
    ...(flags.target ? { target: flags.target } : {}),
    ...(flags.imageSize ? { imageSize: flags.imageSize } : {}),
    ...(flags.limit ? { limit: flags.limit } : {}),
    ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
    ...(flags.alias ? { alias: flags.alias } : {}),
    backend: flags.backend,
    onnx: flags.onnx,
    ...(flags.quiet ? {} : { onEvent: progressReporter() }),
  }).finally(() => data.cleanup());
  if (flags.json) {
    printJson({
      manifest: result.manifest,
      report: result.score.report,
      backend: result.backend,
      history: result.history,
    });
  } else {
    console.log(formatScore(result.score));
    console.log(
      `\npublished ${result.manifest.name} version ${result.manifest.version} to ${store.uri} (backend ${result.backend.name})`,
    );
  }
  return result;
}

export function registerTrainCommands(program: Command): void {
  const architectures = listArchitectures()
    .map((a) => `  ${a.name.padEnd(12)} ${a.description}`)
    .join('\n');
  addRemoteTrainOptions(program.command('train'))
    .description(
      'train a model on data, evaluate it on a held-out split, and publish it as the next version',
    )
    .requiredOption(
      '--model <name>',
      'model name to publish under; also the architecture unless --arch is given',
    )
    .option('--arch <architecture>', 'model builder (see below)')
    .option(
      '--task <task>',
      `what the model does, with its default builder unless --arch is given: ${TRAINABLE_TASKS.map((t) => `${t} (${DEFAULT_ARCHITECTURE[t]})`).join(', ')}`,
      oneOf(TRAINABLE_TASKS),
    )
    .requiredOption(
      '--data <path...>',
      'training data: an image folder with labels.csv, CIFAR-10 .bin batches, a numeric CSV, or a detection set (COCO JSON or YOLO txt folder) (comma-separated or repeated)',
      collectList,
    )
    .option(
      '--store <uri>',
      'model store URI (file://, s3://, gs://)',
      process.env.MSCR_STORE || DEFAULT_STORE,
    )
    .option('--epochs <n>', "training epochs (default: the architecture's)", positiveInt)
    .option('--batch-size <n>', 'mini-batch size', positiveInt)
    .option('--learning-rate <x>', 'Adam learning rate', positiveNumber)
    .option('--test-fraction <x>', 'held-out fraction for evaluation (default 0.2)', fraction)
    .option(
      '--normalization <kind>',
      'image normalization: rescale or standardize',
      oneOf(['rescale', 'standardize'] as const),
    )
    .option(
      '--augment <names>',
      'image augmentation during training: flip, shift (comma-separated)',
      collectList,
    )
    .option('--window <n>', 'series: rows per input window (default 7)', positiveInt)
    .option('--target <column>', 'series: column to forecast (default Close)')
    .option('--image-size <HxW>', "resize images to this size (default: the data's own)", imageSize)
    .option('--limit <n>', 'use at most n samples (quick runs)', positiveInt)
    .option('--seed <n>', 'seed for splits, shuffles and augmentation', positiveInt)
    .option('--alias <name>', 'point this alias (e.g. stable) at the new version')
    .option(
      '--backend <name>',
      'TensorFlow.js backend: auto, tensorflow, wasm, cpu',
      oneOf(BACKENDS),
      (process.env.MSCR_BACKEND as BackendPreference | undefined) || 'auto',
    )
    .option(
      '--no-onnx',
      'publish the TF.js form only (by default an ONNX form, checked against TF.js on held-out inputs, is published too, and `serve --engine auto` runs it on ONNX Runtime)',
    )
    .option('--json', 'print the manifest and the evaluation as JSON')
    .option('--quiet', 'no progress output')
    .addHelpText(
      'after',
      `\nArchitectures:\n${architectures}\n\nExamples:\n  mscr train --model cifar10-cnn --data ../shared/data/cifar10/train --store file://./models --epochs 5\n  mscr data generate detection --out data/objects && mscr train --model objects --task object-detection --data data/objects`,
    )
    .action(async (flags: TrainFlags & RemoteTrainFlags) => {
      if (flags.remote !== undefined) return trainRemote(flags);
      const remoteOnly = (['token', 'follow', 'candidates', 'search', 'searchMode'] as const).find(
        (key) => flags[key] !== undefined,
      );
      if (remoteOnly !== undefined) {
        throw new MscrError(
          'config',
          `--${remoteOnly.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} needs --remote <service-url> (several candidates here: mscr retrain --candidates)`,
        );
      }
      await runTrain(flags);
    });

  program
    .command('evaluate')
    .description('score a published version on labelled data it has not seen')
    .requiredOption('--model <name>', 'model name in the store')
    .requiredOption('--data <path...>', 'evaluation data (same formats as train)', collectList)
    .option('--store <uri>', 'model store URI', process.env.MSCR_STORE || DEFAULT_STORE)
    .option('--version <ref>', 'version number, latest, or an alias', 'latest')
    .option('--limit <n>', 'use at most n samples', positiveInt)
    .option(
      '--backend <name>',
      'TensorFlow.js backend: auto, tensorflow, wasm, cpu',
      oneOf(BACKENDS),
      (process.env.MSCR_BACKEND as BackendPreference | undefined) || 'auto',
    )
    .option('--json', 'print JSON')
    .option(
      '--remote <url>',
      'score on this running Service (POST /mscr/models/{m}/evaluate) instead of here; --data as file://, s3:// or gs:// URIs',
      serviceUrl,
    )
    .option('--token <token>', 'with --remote: the admin token [env MSCR_ADMIN_TOKEN]')
    .addHelpText(
      'after',
      '\nExamples:\n  mscr evaluate --store file://./models --model cifar10-cnn --data ../shared/data/cifar10\n  mscr evaluate --remote http://localhost:8080 --model goog --version 2 --data s3://data/goog.csv',
    )
    .action(
      async (flags: {
        model: string;
        data: string[];
        store: string;
        version: string;
        limit?: number;
        backend: BackendPreference;
        json?: boolean;
        remote?: string;
        token?: string;
      }) => {
        if (flags.remote !== undefined) return evaluateRemote({ ...flags, remote: flags.remote });
        if (flags.token !== undefined) throw new MscrError('config', '--token needs --remote');
        const data = await localData(flags.data);
        const result = await evaluateModel({
          store: openStore(flags.store),
          model: flags.model,
          version: versionRef(flags.version),
          data: data.paths,
          ...(flags.limit ? { limit: flags.limit } : {}),
          backend: flags.backend,
        }).finally(() => data.cleanup());
        if (flags.json) {
          printJson({
            model: result.manifest.name,
            version: result.manifest.version,
            report: result.score.report,
            metrics: result.score.metrics,
          });
          return;
        }
        console.log(
          `${result.manifest.name} version ${result.manifest.version} (${result.manifest.architecture}) on ${result.summary}\n`,
        );
        console.log(formatScore(result.score));
      },
    );
}
