/**
 * The two models of the comparison bench, published into a temporary store the way users
 * publish them, plus what the competitor needs to load the same thing:
 *   - the CIFAR-10 CNN of model/architectures with random weights (inference cost does not
 *     depend on them), published with its verified ONNX form (`model.onnx`, exported in
 *     TypeScript and checked against TF.js, as training publishes it); its TF.js files are
 *     also written to a folder for bench/kserve_server.py, which rebuilds it in Keras;
 *   - a ResNet-50 (model/import/testdata/build_resnet50.py, random He weights, NCHW
 *     [N,3,224,224]) imported with `mscr models import`, as a team bringing a PyTorch-style
 *     ONNX model would.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { modelToFiles } from '../../connectors/ms/artifacts.ts';
import { decodeImage } from '../../connectors/ms/decode-image.ts';
import type { ImagePreprocessing, ManifestDraft } from '../../connectors/ms/manifest.ts';
import { imagePixelsToInput } from '../../connectors/ms/preprocessing.ts';
import { openStore } from '../../connectors/store/index.ts';
import { getArchitecture } from '../../model/architectures/index.ts';
import { CIFAR10_CLASS_NAMES, syntheticImages } from '../../model/data/index.ts';
import { verifiedOnnxForm } from '../../model/export/onnx/index.ts';
import { sharedDataRoot } from '../../tests/shared-data.ts';
import type { Payload } from '../harness.ts';
import { root } from '../harness.ts';

export const CNN = 'cifar10-cnn';
export const RESNET = 'resnet50';
const ML_PYTHON = path.join(root, '.tools/venv-ml/bin/python');

const IMAGE_SPEC: ImagePreprocessing = {
  kind: 'image',
  height: 32,
  width: 32,
  channels: 3,
  normalization: { type: 'rescale' },
};

/** One real CIFAR-10 test image, rescaled as the manifest says (a generated one if absent). */
export async function cifarImage(): Promise<{ source: string; input: Float32Array }> {
  const file = sharedDataRoot ? path.join(sharedDataRoot, 'cifar10/images/cat_0003.jpg') : '';
  if (file !== '' && existsSync(file)) {
    const pixels = await decodeImage(await readFile(file), { height: 32, width: 32, channels: 3 });
    return { source: file, input: imagePixelsToInput(pixels, IMAGE_SPEC) };
  }
  const generated = syntheticImages({ count: 1, height: 32, width: 32, classes: 10, seed: 1 });
  return {
    source: 'generated (syntheticImages, seed 1)',
    input: imagePixelsToInput(generated.pixels, IMAGE_SPEC),
  };
}

/** Publishes the CNN (TF.js + verified ONNX form); returns the folder of its TF.js files. */
export async function publishCnn(storeDir: string, tfjsDir: string): Promise<string> {
  const model = getArchitecture(CNN).build({
    task: 'image-classification',
    height: 32,
    width: 32,
    channels: 3,
    classes: 10,
  });
  try {
    const files = await modelToFiles(model);
    await mkdir(tfjsDir, { recursive: true });
    for (const [name, bytes] of files) await writeFile(path.join(tfjsDir, name), bytes);
    const draft: ManifestDraft = {
      name: CNN,
      framework: { name: 'tfjs', version: tf.version.tfjs, format: 'layers-model' },
      task: 'image-classification',
      architecture: CNN,
      inputs: [{ name: 'image', dtype: 'float32', shape: [-1, 32, 32, 3] }],
      outputs: [{ name: 'probabilities', dtype: 'float32', shape: [-1, 10] }],
      labels: [...CIFAR10_CLASS_NAMES],
      preprocessing: IMAGE_SPEC,
      metrics: {},
      training: {
        epochs: 0,
        batchSize: 0,
        trainSamples: 0,
        testSamples: 0,
        backend: 'none (random weights: the bench measures inference cost only)',
        durationMs: 0,
        parameters: model.countParams(),
      },
      data: { fingerprint: '0'.repeat(64), sources: ['bench: untrained'] },
    };
    const sample = tf.randomUniform([16, 32, 32, 3], 0, 1, 'float32', 7);
    const form = await verifiedOnnxForm(model, draft, sample);
    sample.dispose();
    if (!form.ok) throw new Error(`the CNN has no ONNX form: ${form.reason}`);
    files.set(form.file, form.bytes);
    draft.artifacts = { onnx: form.artifact };
    await openStore(storeDir).publish(draft, files);
    return tfjsDir;
  } finally {
    model.dispose();
  }
}

/** Builds the ResNet-50 ONNX file and imports it with the mscr CLI. */
export async function importResnet(storeDir: string, workDir: string): Promise<string> {
  if (!existsSync(ML_PYTHON)) {
    // The project's pinned model-building tools (numpy, onnx), as `npm run setup` installs them.
    execFileSync(process.execPath, [path.join(root, 'scripts/setup-python.mjs')], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
  }
  const file = path.join(workDir, 'resnet50.onnx');
  execFileSync(ML_PYTHON, [path.join(root, 'model/import/testdata/build_resnet50.py'), file], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const labels = path.join(workDir, 'labels.txt');
  await writeFile(labels, Array.from({ length: 1000 }, (_, i) => `class_${i}`).join('\n'));
  execFileSync(
    process.execPath,
    [
      path.join(root, 'bin/mscr.js'),
      'models',
      'import',
      '--store',
      `file://${storeDir}`,
      '--model',
      RESNET,
      '--task',
      'image-classification',
      '--image-size',
      '224',
      '--layout',
      'NCHW',
      '--mean',
      '0.485,0.456,0.406',
      '--std',
      '0.229,0.224,0.225',
      '--labels',
      labels,
      file,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  return file;
}

/** A V2 infer request with flat JSON data, as every client library sends it. */
export function jsonPayload(input: Float32Array, shape: number[], name: string): Payload {
  return {
    name: 'V2 JSON',
    body: JSON.stringify({
      inputs: [{ name, shape, datatype: 'FP32', data: Array.from(input) }],
    }),
  };
}

/** The binary tensor data extension (tritonclient's default): JSON header + raw FP32 LE. */
export function binaryPayload(input: Float32Array, shape: number[], name: string): Payload {
  const raw = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const header = Buffer.from(
    JSON.stringify({
      inputs: [{ name, shape, datatype: 'FP32', parameters: { binary_data_size: raw.length } }],
    }),
  );
  return {
    name: 'V2 binary',
    body: Buffer.concat([header, raw]),
    headers: {
      'content-type': 'application/octet-stream',
      'inference-header-content-length': String(header.length),
    },
  };
}

/** ResNet's input: the CIFAR image would do, but a fixed pseudo-random one keeps it simple. */
export function resnetInput(): Float32Array {
  const x = new Float32Array(3 * 224 * 224);
  let s = 12345;
  for (let i = 0; i < x.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    x[i] = (s / 2 ** 32) * 2 - 1;
  }
  return x;
}
