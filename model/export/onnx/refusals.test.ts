/**
 * What the exporter refuses, and how: a bad_request MscrError naming the layer and what about
 * it cannot be expressed (or a config/integrity error for bad arguments and bad files),
 * never a graph that would silently compute something else.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { isMscrError } from '../../../connectors/errors.ts';
import { modelToFiles } from '../../../connectors/ms/artifacts.ts';
import { initBackend } from '../../../runtime/backend/index.ts';
import { exportLayersModelToOnnx, exportModelFilesToOnnx, supportedLayerClasses } from './index.ts';

before(async () => {
  await initBackend('wasm');
});

function sequential(inputShape: number[], layers: tf.layers.Layer[]): tf.Sequential {
  const model = tf.sequential();
  model.add(tf.layers.inputLayer({ inputShape }));
  for (const layer of layers) model.add(layer);
  return model;
}

/** Asserts the export fails with an MscrError of `code` whose message matches `pattern`. */
function assertRefused(run: () => unknown, code: string, pattern: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(isMscrError(error), `an MscrError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
    return true;
  });
}

describe('unsupported layers and options', () => {
  test('a TimeDistributed wrapper is refused by name and type, listing what is supported', () => {
    const wrapped = tf.layers.timeDistributed({
      layer: tf.layers.dense({ units: 2 }),
      name: 'per_step',
    });
    const model = sequential([5, 3], [wrapped]);
    assertRefused(
      () => exportLayersModelToOnnx(model),
      'bad_request',
      /layer 'per_step' of type TimeDistributed cannot be exported to ONNX; supported layer types: .*Conv2D.*LSTM/,
    );
    assert.ok(supportedLayerClasses.includes('LSTM'));
    assert.ok(!supportedLayerClasses.includes('TimeDistributed'));
  });

  test('an Embedding layer is refused', () => {
    const model = sequential(
      [8],
      [tf.layers.embedding({ inputDim: 10, outputDim: 3, name: 'emb' })],
    );
    assertRefused(() => exportLayersModelToOnnx(model), 'bad_request', /'emb' of type Embedding/);
  });

  test('channels-first convolution is refused', () => {
    const model = sequential(
      [3, 8, 8],
      [tf.layers.conv2d({ filters: 2, kernelSize: 3, dataFormat: 'channelsFirst', name: 'cf' })],
    );
    assertRefused(
      () => exportLayersModelToOnnx(model),
      'bad_request',
      /layer 'cf' \(Conv2D\): dataFormat 'channelsFirst'/,
    );
  });

  test('recurrent options the ONNX graph would not honour: goBackwards, state outputs, unmerged directions, swish cells', () => {
    const backwards = sequential(
      [4, 2],
      [tf.layers.lstm({ units: 3, goBackwards: true, name: 'back' })],
    );
    assertRefused(
      () => exportLayersModelToOnnx(backwards),
      'bad_request',
      /'back' \(LSTM\): goBackwards/,
    );

    const input = tf.input({ shape: [4, 2] });
    const outputs = tf.layers
      .lstm({ units: 3, returnState: true, name: 'stateful_out' })
      .apply(input) as tf.SymbolicTensor[];
    const withState = tf.model({ inputs: input, outputs: outputs[0] as tf.SymbolicTensor });
    assertRefused(
      () => exportLayersModelToOnnx(withState),
      'bad_request',
      /'stateful_out'.*several outputs/,
    );

    const seq = tf.input({ shape: [4, 2] });
    const split = tf.layers
      .bidirectional({
        layer: tf.layers.lstm({ units: 3 }) as tf.RNN,
        mergeMode: null as never,
        name: 'split',
      })
      .apply(seq) as tf.SymbolicTensor[];
    const bothWays = tf.model({ inputs: seq, outputs: split[0] as tf.SymbolicTensor });
    assertRefused(
      () => exportLayersModelToOnnx(bothWays),
      'bad_request',
      /'split'.*several outputs/,
    );

    const swish = sequential(
      [4, 2],
      [tf.layers.lstm({ units: 3, activation: 'swish', name: 'sw' })],
    );
    assertRefused(
      () => exportLayersModelToOnnx(swish),
      'bad_request',
      /'sw' \(LSTM\): recurrent cell activation 'swish'/,
    );
  });

  test('batch normalisation over a non-last axis is refused (TF.js computes it along the last)', () => {
    const model = sequential([4, 3], [tf.layers.batchNormalization({ axis: 1, name: 'bn1' })]);
    assertRefused(
      () => exportLayersModelToOnnx(model),
      'bad_request',
      /'bn1'.*axis 1 of a rank-3 input/,
    );
  });

  test('a layer called twice (shared weights) is refused', () => {
    const input = tf.input({ shape: [4] });
    const shared = tf.layers.dense({ units: 4, name: 'shared' });
    const once = shared.apply(input) as tf.SymbolicTensor;
    const twice = shared.apply(once) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: twice });
    assertRefused(
      () => exportLayersModelToOnnx(model),
      'bad_request',
      /'shared' \(Dense\) is called 2 times/,
    );
  });
});

describe('bad arguments and bad files', () => {
  test('something that is not a LayersModel', () => {
    assertRefused(
      () => exportLayersModelToOnnx({} as tf.LayersModel),
      'bad_request',
      /takes a TF.js LayersModel/,
    );
    assertRefused(
      () => exportLayersModelToOnnx(null as unknown as tf.LayersModel),
      'bad_request',
      /LayersModel/,
    );
  });

  test('signature names: wrong count, empty, duplicated, or shared between input and output', () => {
    const model = sequential([3], [tf.layers.dense({ units: 2 })]);
    assertRefused(
      () => exportLayersModelToOnnx(model, { inputNames: ['a', 'b'] }),
      'config',
      /expected 1/,
    );
    assertRefused(
      () => exportLayersModelToOnnx(model, { outputNames: [''] }),
      'config',
      /non-empty/,
    );
    assertRefused(
      () => exportLayersModelToOnnx(model, { inputNames: ['x'], outputNames: ['x'] }),
      'config',
      /cannot share a name/,
    );
    const two = tf.input({ shape: [3] });
    const three = tf.input({ shape: [3] });
    const sum = tf.layers.add().apply([two, three]) as tf.SymbolicTensor;
    const pair = tf.model({ inputs: [two, three], outputs: sum });
    assertRefused(
      () => exportLayersModelToOnnx(pair, { inputNames: ['a', 'a'] }),
      'config',
      /distinct/,
    );
  });

  test('version files without model.json, with broken JSON, or missing their weights', async () => {
    const model = sequential([3], [tf.layers.dense({ units: 2 })]);
    const files = await modelToFiles(model);
    const noJson = new Map(files);
    noJson.delete('model.json');
    await assert.rejects(
      exportModelFilesToOnnx(noJson),
      (e: unknown) => isMscrError(e, 'integrity') && /model\.json/.test(e.message),
    );
    const broken = new Map(files);
    broken.set('model.json', new TextEncoder().encode('{"modelTopology": '));
    await assert.rejects(
      exportModelFilesToOnnx(broken),
      (e: unknown) => isMscrError(e, 'integrity') && /not valid JSON/.test(e.message),
    );
    const noWeights = new Map(files);
    noWeights.delete('weights.bin');
    await assert.rejects(
      exportModelFilesToOnnx(noWeights),
      (e: unknown) => isMscrError(e, 'integrity') && /weights\.bin/.test(e.message),
    );
    // The intact files export.
    assert.ok((await exportModelFilesToOnnx(files)).length > 0);
  });
});
