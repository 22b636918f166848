/**
 * The written file is valid ONNX by the reference implementation's own checker
 * (`onnx.checker.check_model(full_check=True)`, which also runs strict shape inference), and
 * ONNX Runtime opens it from disk. The checker comes from the pinned `.tools/venv-ml` Python
 * environment that scripts/setup-python.mjs creates; without it the test is skipped with the
 * reason, and fails when CI is set.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { initBackend } from '../../../runtime/backend/index.ts';
import { listArchitectures } from '../../architectures/index.ts';
import { decodeModel } from './graph-builder.ts';
import { exportLayersModelToOnnx, ONNX_OPSET } from './index.ts';

const python = resolve(import.meta.dirname, '../../../.tools/venv-ml/bin/python');
const checker = `
import sys, onnx
for path in sys.argv[1:]:
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    print(path, 'ok', model.opset_import[0].version)
`;

function checkerUnavailable(): string | false {
  const reason = !existsSync(python)
    ? `${python} does not exist: run \`node scripts/setup-python.mjs\``
    : spawnSync(python, ['-c', 'import onnx'], { stdio: 'ignore' }).status !== 0
      ? `the onnx package is not importable by ${python}: run \`node scripts/setup-python.mjs\``
      : false;
  if (reason && process.env.CI) throw new Error(`CI is set, so this cannot be skipped: ${reason}`);
  return reason;
}

let dir: string;
const files: string[] = [];

before(async () => {
  await initBackend('wasm');
  dir = await mkdtemp(join(tmpdir(), 'mscr-onnx-file-'));
  for (const architecture of listArchitectures()) {
    const model = architecture.build(
      architecture.task === 'image-classification'
        ? { task: 'image-classification', height: 32, width: 32, channels: 3, classes: 10 }
        : architecture.task === 'object-detection'
          ? { task: 'object-detection', height: 64, width: 64, channels: 3, classes: 3 }
          : { task: 'series-forecast', window: 7, features: 5 },
    );
    const path = join(dir, `${architecture.name}.onnx`);
    await writeFile(path, exportLayersModelToOnnx(model));
    model.dispose();
    files.push(path);
  }
  // Beyond the architectures: the other ops the exporter writes, in one more file.
  const image = tf.input({ shape: [9, 8, 3], name: 'image' });
  let x = tf.layers
    .separableConv2d({ filters: 4, kernelSize: 3, padding: 'same' })
    .apply(image) as tf.SymbolicTensor;
  x = tf.layers.depthwiseConv2d({ kernelSize: 2 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.zeroPadding2d({ padding: 1 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.cropping2D({ cropping: 1 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers
    .upSampling2d({ size: [2, 2], interpolation: 'bilinear' })
    .apply(x) as tf.SymbolicTensor;
  x = tf.layers.prelu({}).apply(x) as tf.SymbolicTensor;
  const pooled = tf.layers.globalMaxPooling2d({}).apply(x) as tf.SymbolicTensor;
  const normed = tf.layers.layerNormalization().apply(pooled) as tf.SymbolicTensor;
  const repeated = tf.layers.repeatVector({ n: 3 }).apply(normed) as tf.SymbolicTensor;
  const both = tf.layers
    .bidirectional({
      layer: tf.layers.gru({ units: 2, returnSequences: true }) as tf.RNN,
      mergeMode: 'sum',
    })
    .apply(repeated) as tf.SymbolicTensor;
  const permuted = tf.layers.permute({ dims: [2, 1] }).apply(both) as tf.SymbolicTensor;
  const conv1 = tf.layers
    .conv1d({ filters: 2, kernelSize: 2 })
    .apply(permuted) as tf.SymbolicTensor;
  const rnn = tf.layers.simpleRNN({ units: 2 }).apply(conv1) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 3, activation: 'gelu_new' }).apply(rnn) as tf.SymbolicTensor;
  const extras = tf.model({ inputs: image, outputs: out });
  const path = join(dir, 'extra-layers.onnx');
  await writeFile(path, exportLayersModelToOnnx(extras));
  extras.dispose();
  files.push(path);
});
after(() => rm(dir, { recursive: true, force: true }));

describe('the written .onnx files', () => {
  test('declare opset 17 and IR version 8, and every node input is defined before use', () => {
    for (const path of files) {
      const bytes = new Uint8Array(readFileSync(path));
      const model = decodeModel(bytes);
      assert.equal(Number(model.irVersion), 8);
      assert.deepEqual(
        model.opsetImport.map((o) => [o.domain, Number(o.version)]),
        [['', ONNX_OPSET]],
      );
      const graph = model.graph;
      assert.ok(graph);
      const defined = new Set([
        ...(graph.input ?? []).map((v) => v.name),
        ...(graph.initializer ?? []).map((t) => t.name),
      ]);
      for (const node of graph.node ?? []) {
        // '' marks an omitted optional input.
        for (const input of (node.input ?? []).filter((i) => i !== ''))
          assert.ok(defined.has(input), `${path}: ${node.name} reads ${input} before it exists`);
        for (const output of node.output ?? []) {
          assert.ok(!defined.has(output), `${path}: ${output} is assigned twice`);
          defined.add(output);
        }
      }
      for (const output of graph.output ?? [])
        assert.ok(defined.has(output.name), `${path}: output ${output.name}`);
    }
  });

  test('ONNX Runtime opens each file from disk', async () => {
    for (const path of files) {
      const session = await ort.InferenceSession.create(path);
      assert.equal(session.inputNames.length, 1);
      assert.equal(session.outputNames.length, 1);
      await session.release();
    }
  });

  const skip = checkerUnavailable();
  test('onnx.checker.check_model(full_check=True) accepts each file', { skip }, () => {
    const result = spawnSync(python, ['-c', checker, ...files], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(
      result.stdout
        .trim()
        .split('\n')
        .filter((l) => l.endsWith(`ok ${ONNX_OPSET}`)).length,
      files.length,
    );
  });
});
