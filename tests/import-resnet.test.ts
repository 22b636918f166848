/**
 * An image model trained elsewhere: a ResNet-50 architecture (25.6 M parameters, random He
 * weights; no weights can be downloaded here) written as ONNX by
 * model/import/testdata/build_resnet50.py with `onnx.helper` (see that file for why not
 * PyTorch), imported with PyTorch's preprocessing flags (NCHW, ImageNet mean and std), and
 * served over the classify convenience, V1 and V2 (JSON and binary tensors) with one answer.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { decodeImage } from '../connectors/ms/decode-image.ts';
import type { ImagePreprocessing, ModelManifest } from '../connectors/ms/manifest.ts';
import { imagePixelsToInput } from '../connectors/ms/preprocessing.ts';
import type { Service } from '../service/server.ts';
import { postJson, startService, waitUntil } from '../service/test-support.ts';
import { ML_PYTHON } from './python.ts';
import { runMscr } from './run-mscr.ts';
import { sharedData } from './shared-data.ts';

const BUILD = new URL('../model/import/testdata/build_resnet50.py', import.meta.url).pathname;
const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

describe('a ResNet-50 ONNX model, imported and served', () => {
  let dir: string;
  let service: Service;
  let url: string;
  let manifest: ModelManifest;
  let image: Buffer;
  /** The image as the model takes it, computed here with the connector's own functions. */
  let input: Float32Array;

  before(async () => {
    assert.ok(
      existsSync(ML_PYTHON),
      `run node scripts/setup-python.mjs first (npm test does): ${ML_PYTHON} is missing`,
    );
    dir = await mkdtemp(path.join(os.tmpdir(), 'mscr-resnet-'));
    const file = path.join(dir, 'resnet50.onnx');
    const built = await promisify(execFile)(ML_PYTHON, [BUILD, file], { timeout: 300_000 });
    assert.match(built.stdout, /ok 25\d{6} parameters/);
    const labels = path.join(dir, 'labels.txt');
    await writeFile(labels, Array.from({ length: 1000 }, (_, i) => `class_${i}`).join('\n'));
    const store = `file://${path.join(dir, 'store')}`;
    const run = await runMscr([
      'models',
      'import',
      '--store',
      store,
      '--model',
      'resnet',
      '--task',
      'image-classification',
      '--image-size',
      '224',
      '--layout',
      'NCHW',
      '--mean',
      MEAN.join(','),
      '--std',
      STD.join(','),
      '--labels',
      labels,
      '--json',
      file,
    ]);
    assert.equal(run.code, 0, run.stderr);
    manifest = JSON.parse(run.stdout) as ModelManifest;
    ({ service, url } = await startService(store, { workers: '1' }));
    await waitUntil(
      async () => (await fetch(`${url}/v2/health/ready`)).status === 200,
      'ready',
      120_000,
    );
    image = await readFile(sharedData('cifar10/images/airplane_0000.jpg'));
    const spec = manifest.preprocessing as ImagePreprocessing;
    input = imagePixelsToInput(
      await decodeImage(image, { height: 224, width: 224, channels: 3 }),
      spec,
    );
  });

  after(async () => {
    await service?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the manifest holds the signature read from the file and the flags', () => {
    assert.equal(manifest.framework.name, 'onnx');
    assert.deepEqual(manifest.inputs, [
      { name: 'input', dtype: 'float32', shape: [-1, 3, 224, 224] },
    ]);
    assert.deepEqual(manifest.outputs, [
      { name: 'probabilities', dtype: 'float32', shape: [-1, 1000] },
    ]);
    assert.deepEqual(manifest.preprocessing, {
      kind: 'image',
      height: 224,
      width: 224,
      channels: 3,
      layout: 'NCHW',
      normalization: { type: 'standardize', mean: MEAN, std: STD },
    });
    assert.equal(manifest.labels?.length, 1000);
  });

  test('classify, V1, V2 JSON and V2 binary give the same probabilities for one image', async () => {
    const response = await fetch(`${url}/mscr/models/resnet/classify?top=5`, {
      method: 'POST',
      body: image,
    });
    const classify = (await response.json()) as {
      predictions: { label: string; score: number }[][];
    };
    assert.equal(response.status, 200, JSON.stringify(classify));
    const top = classify.predictions[0] ?? [];
    assert.equal(top.length, 5);
    for (let i = 1; i < top.length; i++) {
      assert.ok((top[i - 1]?.score ?? 0) >= (top[i]?.score ?? 0), 'best first');
    }

    const rows = [Array.from(input)];
    const v2 = await postJson(`${url}/v2/models/resnet/infer`, {
      inputs: [{ name: 'input', shape: [1, 3, 224, 224], datatype: 'FP32', data: rows[0] }],
    });
    assert.equal(v2.status, 200, JSON.stringify(v2.json).slice(0, 300));
    const probabilities = (v2.json.outputs as { data: number[] }[])[0]?.data ?? [];
    assert.equal(probabilities.length, 1000);
    const sum = probabilities.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 1) < 1e-4, `softmax sums to ${sum}`);
    for (const { label, score } of top) {
      const index = Number(label.replace('class_', ''));
      assert.ok(Math.abs((probabilities[index] ?? 0) - score) < 1e-6, `${label}`);
    }

    const v1 = await postJson(`${url}/v1/models/resnet:predict`, {
      instances: [
        Array.from({ length: 3 }, (_, c) =>
          Array.from({ length: 224 }, (_, y) =>
            Array.from(input.subarray(c * 224 * 224 + y * 224, c * 224 * 224 + (y + 1) * 224)),
          ),
        ),
      ],
    });
    assert.equal(v1.status, 200, JSON.stringify(v1.json).slice(0, 300));
    const v1Row = (v1.json.predictions as number[][])[0] ?? [];
    v1Row.forEach((p, i) => assert.ok(Math.abs(p - (probabilities[i] ?? 0)) < 1e-6));

    const header = Buffer.from(
      JSON.stringify({
        inputs: [
          {
            name: 'input',
            shape: [1, 3, 224, 224],
            datatype: 'FP32',
            parameters: { binary_data_size: input.byteLength },
          },
        ],
        outputs: [{ name: 'probabilities', parameters: { binary_data: true } }],
      }),
    );
    const binary = await fetch(`${url}/v2/models/resnet/infer`, {
      method: 'POST',
      headers: {
        'content-type': 'application/octet-stream',
        'inference-header-content-length': String(header.length),
      },
      body: Buffer.concat([header, Buffer.from(input.buffer, input.byteOffset, input.byteLength)]),
    });
    assert.equal(binary.status, 200);
    const body = Buffer.from(await binary.arrayBuffer());
    const length = Number(binary.headers.get('inference-header-content-length'));
    const raw = body.subarray(length);
    const out = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    assert.equal(out.length, 1000);
    out.forEach((p, i) => assert.ok(Math.abs(p - (probabilities[i] ?? 0)) < 1e-6));
  });

  test('a batch of two images through V2 answers two rows', async () => {
    const data = Array.from({ length: 2 }, () => Array.from(input)).flat();
    const v2 = await postJson(`${url}/v2/models/resnet/infer`, {
      inputs: [{ name: 'input', shape: [2, 3, 224, 224], datatype: 'FP32', data }],
    });
    assert.equal(v2.status, 200, JSON.stringify(v2.json).slice(0, 300));
    const out = (v2.json.outputs as { shape: number[] }[])[0];
    assert.deepEqual(out?.shape, [2, 1000]);
  });
});
