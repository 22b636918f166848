/** `mscr models import`: publish a model trained elsewhere (ONNX file or TF.js folder) as a new version. */
import { InvalidArgumentError, type Command } from 'commander';
import { MODEL_TASKS, type ModelTask } from '../connectors/ms/manifest.ts';
import { openStore } from '../connectors/store/index.ts';
import { importModel, parseScale, readLabels } from '../model/import/index.ts';
import { collectList, DEFAULT_STORE, imageSize, oneOf } from './options.ts';
import { printJson } from './output.ts';

interface ImportFlags {
  store: string;
  model: string;
  labels?: string;
  task?: ModelTask;
  output?: string;
  imageSize?: { height: number; width: number };
  layout?: 'NHWC' | 'NCHW';
  scale?: string;
  mean?: number[];
  std?: number[];
  features?: string[];
  alias?: string;
  json?: boolean;
}

function numbers(value: string): number[] {
  const parts = value.split(',').map((part) => part.trim());
  const values = parts.map((part) => (part === '' ? NaN : Number(part)));
  if (values.some((v) => !Number.isFinite(v))) {
    throw new InvalidArgumentError(
      `expected comma-separated numbers such as 0.485,0.456,0.406, got ${JSON.stringify(value)}`,
    );
  }
  return values;
}

function scale(value: string): string {
  try {
    parseScale(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
  return value;
}

export function registerImportCommand(models: Command): void {
  models
    .command('import')
    .description(
      'publish a model trained elsewhere as a new version: an ONNX file (PyTorch, Keras via tf2onnx, scikit-learn via skl2onnx, XGBoost via onnxmltools) or a TF.js layers-model folder; its signature is read from the file, and a file that cannot serve is refused before anything is published',
    )
    .argument('<path>', 'an .onnx file, or a folder with model.json and its weight shards')
    .requiredOption('--model <name>', 'model name to publish under')
    .option('--store <uri>', 'model store URI', process.env.MSCR_STORE || DEFAULT_STORE)
    .option(
      '--task <task>',
      `what the model does: ${MODEL_TASKS.join(', ')} (default: guessed from the signature)`,
      oneOf(MODEL_TASKS),
    )
    .option(
      '--labels <file>',
      'class names, one per line, in output order (default: from the model, else 0..n-1)',
    )
    .option(
      '--output <name>',
      "ONNX: the graph output to serve (default: a classifier's probabilities, else the first)",
    )
    .option(
      '--image-size <HxW>',
      'images are resized to this (224 or 224x160) before inference',
      imageSize,
    )
    .option(
      '--layout <layout>',
      'image tensor layout: NHWC (TF.js, Keras) or NCHW (PyTorch) (default: from the shape)',
      oneOf(['NHWC', 'NCHW'] as const),
    )
    .option('--scale <factor>', 'pixels 0..255 are multiplied by this first (default 1/255)', scale)
    .option('--mean <a,b,c>', 'per-channel mean subtracted after scaling', numbers)
    .option('--std <a,b,c>', 'per-channel standard deviation divided by after the mean', numbers)
    .option(
      '--features <names>',
      'tabular models: feature names in input column order (default f0, f1, ...)',
      collectList,
    )
    .option('--alias <name>', 'point this alias at the new version')
    .option('--json', 'print the manifest as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  mscr models import --store file://./models --model resnet --task image-classification \\\n    --image-size 224 --layout NCHW --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225 --labels labels.txt resnet50.onnx\n  mscr models import --model cancer --features "mean radius,mean texture,..." forest.onnx\n  mscr models import --model yolo --task object-detection --image-size 640 --labels names.txt yolov8n.onnx\n\nAn object-detection import records how its output is read (detection.layout): anchor-free\n[1, 4+C, boxes] (YOLOv8 and later) or objectness [1, boxes, 5+C] (YOLOv5), told from the output\nshape and the number of labels; images are stretched to --image-size (not letterboxed).',
    )
    .action(async (path: string, flags: ImportFlags) => {
      const image = {
        ...(flags.imageSize ? { size: flags.imageSize } : {}),
        ...(flags.layout ? { layout: flags.layout } : {}),
        ...(flags.scale ? { scale: parseScale(flags.scale) } : {}),
        ...(flags.mean ? { mean: flags.mean } : {}),
        ...(flags.std ? { std: flags.std } : {}),
      };
      const manifest = await importModel({
        store: openStore(flags.store),
        model: flags.model,
        path,
        ...(flags.task ? { task: flags.task } : {}),
        ...(flags.labels ? { labels: await readLabels(flags.labels) } : {}),
        ...(flags.output ? { output: flags.output } : {}),
        ...(Object.keys(image).length > 0 ? { image } : {}),
        ...(flags.features ? { features: flags.features } : {}),
        ...(flags.alias ? { alias: flags.alias } : {}),
      });
      if (flags.json) return printJson(manifest);
      const input = manifest.inputs[0];
      console.log(
        `imported ${path} as ${manifest.name} version ${manifest.version} (${manifest.framework.name}, ${manifest.task}, input ${input?.name} [${input?.shape.join(',')}], output ${manifest.outputs[0]?.name})${flags.alias ? `; ${flags.alias} -> ${manifest.version}` : ''}`,
      );
    });
}
