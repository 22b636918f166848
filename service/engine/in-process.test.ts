/**
 * ONNX Runtime on the service's own thread (`onnxInProcess`): the same engine behaviour as
 * in the workers (batching, row split, errors, unload and reload, shutdown), on real ONNX
 * models run by the real onnxruntime-node, and TF.js versions still on the workers.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { isMscrError } from '../../connectors/errors.ts';
import { modelToFiles } from '../../connectors/ms/artifacts.ts';
import { initBackend } from '../../runtime/backend/index.ts';
import { InProcessModels, InferenceEngine, modelKey, type EngineBatchStats } from './index.ts';
import { denseOnnx } from './onnx-fixtures.ts';

const FEATURES = 4;
const CLASSES = 3;
const WEIGHTS = Array.from({ length: FEATURES * CLASSES }, (_, i) => Math.sin(i + 1));
const BIAS = [0.1, -0.2, 0.3];
const ONNX = { engine: 'onnx' as const, file: 'model.onnx' };

function onnxFiles(options: Partial<Parameters<typeof denseOnnx>[0]> = {}) {
  return {
    'model.onnx': denseOnnx({
      features: FEATURES,
      classes: CLASSES,
      weights: WEIGHTS,
      bias: BIAS,
      ...options,
    }),
  };
}

/** softmax(x W + b), row by row, in float64. */
function expected(input: Float32Array): number[] {
  const out: number[] = [];
  for (let r = 0; r < input.length / FEATURES; r++) {
    const logits = BIAS.map((b, c) => {
      let sum = b;
      for (let f = 0; f < FEATURES; f++) {
        sum += (input[r * FEATURES + f] ?? 0) * (WEIGHTS[f * CLASSES + c] ?? 0);
      }
      return sum;
    });
    const max = Math.max(...logits);
    const exps = logits.map((l) => Math.exp(l - max));
    const total = exps.reduce((a, b) => a + b, 0);
    out.push(...exps.map((e) => e / total));
  }
  return out;
}

function rows(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: n * FEATURES }, (_, i) => Math.cos(seed * 3.7 + i * 0.61));
}

function assertClose(actual: Float32Array, want: number[], what: string): void {
  assert.equal(actual.length, want.length, `${what}: length`);
  actual.forEach((v, i) => assert.ok(Math.abs(v - (want[i] ?? NaN)) < 1e-5, `${what}[${i}]`));
}

function expectCode(code: string, message?: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(isMscrError(error), `expected MscrError(${code}), got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (message) assert.match(error.message, message);
    return true;
  };
}

describe('InferenceEngine with ONNX Runtime in process', () => {
  let engine: InferenceEngine;
  const batches: EngineBatchStats[] = [];
  const KEY = modelKey('dense', 1);

  before(async () => {
    await initBackend('wasm');
    engine = await InferenceEngine.start({
      workers: 1,
      backend: 'wasm',
      onnxThreads: 1,
      onnxInProcess: true,
      batching: { maxBatchSize: 8, maxQueueDelayMs: 5 },
    });
    engine.onBatch((stats) => batches.push(stats));
    await engine.load(KEY, onnxFiles(), { runtime: ONNX, inputShape: [-1, FEATURES] });
  });

  after(async () => {
    await engine?.close();
  });

  test('concurrent requests are batched, each gets its own rows, on this thread', async () => {
    batches.length = 0;
    const inputs = Array.from({ length: 12 }, (_, i) => rows(1 + (i % 3), i));
    const answers = await Promise.all(
      inputs.map((x) => engine.predict(KEY, x.slice(), [x.length / FEATURES, FEATURES])),
    );
    answers.forEach((answer, i) => {
      const x = inputs[i] as Float32Array;
      assert.deepEqual(answer.shape, [x.length / FEATURES, CLASSES]);
      assertClose(answer.output, expected(x), `request ${i}`);
    });
    assert.ok(
      batches.some((b) => b.requests > 1),
      `batched: ${JSON.stringify(batches)}`,
    );
    assert.ok(batches.every((b) => b.size <= 8 || b.requests === 1));
    const stats = engine.stats();
    assert.ok((stats.inProcess?.served ?? 0) >= batches.length);
    assert.equal(stats.inProcess?.models, 1);
    assert.ok(
      stats.workers.every((w) => w.served === 0),
      'no worker ran it',
    );
  });

  test('with spinning threads (--onnx-spinning on), in process and in workers, the answers are the same', async () => {
    const spinning = await InferenceEngine.start({
      workers: 1,
      backend: 'wasm',
      onnxThreads: 2,
      onnxSpinning: true,
    });
    const spinningHere = await InferenceEngine.start({
      workers: 1,
      backend: 'wasm',
      onnxThreads: 2,
      onnxInProcess: true,
      onnxSpinning: true,
    });
    try {
      await spinning.load(KEY, onnxFiles(), { runtime: ONNX });
      await spinningHere.load(KEY, onnxFiles(), { runtime: ONNX });
      const x = rows(5, 7);
      const [reference, there, here] = await Promise.all([
        engine.predict(KEY, x.slice(), [5, FEATURES]),
        spinning.predict(KEY, x.slice(), [5, FEATURES]),
        spinningHere.predict(KEY, x.slice(), [5, FEATURES]),
      ]);
      assertClose(there.output, Array.from(reference.output), 'spinning workers');
      assertClose(here.output, Array.from(reference.output), 'spinning in process');
      assert.ok((spinning.stats().workers[0]?.served ?? 0) > 0);
      assert.ok((spinningHere.stats().inProcess?.served ?? 0) > 0);
    } finally {
      await Promise.all([spinning.close(), spinningHere.close()]);
    }
  });

  test('answers equal the same model run in the worker threads', async () => {
    const workers = await InferenceEngine.start({ workers: 1, backend: 'wasm', onnxThreads: 1 });
    try {
      await workers.load(KEY, onnxFiles(), { runtime: ONNX });
      const x = rows(5, 42);
      const [here, there] = await Promise.all([
        engine.predict(KEY, x.slice(), [5, FEATURES]),
        workers.predict(KEY, x.slice(), [5, FEATURES]),
      ]);
      assert.deepEqual(Array.from(here.output), Array.from(there.output));
      assert.ok((workers.stats().workers[0]?.served ?? 0) > 0);
      assert.equal(workers.stats().inProcess, undefined);
    } finally {
      await workers.close();
    }
  });

  test('TF.js versions still run on the workers', async () => {
    const model = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [FEATURES], units: 2, activation: 'softmax' })],
    });
    const key = modelKey('tfjs-dense', 1);
    try {
      const before = engine.stats().workers[0]?.served ?? 0;
      const loaded = await engine.load(key, await modelToFiles(model));
      assert.equal(loaded.engine, 'tfjs');
      const x = rows(2, 7);
      const answer = await engine.predict(key, x, [2, FEATURES]);
      assert.deepEqual(answer.shape, [2, 2]);
      assert.ok((engine.stats().workers[0]?.served ?? 0) > before, 'a worker ran it');
      assert.equal(engine.stats().inProcess?.models, 1, 'not loaded in process');
      await engine.unload(key);
    } finally {
      model.dispose();
    }
  });

  test('bad input fails alone with bad_request; the engine keeps serving', async () => {
    await assert.rejects(
      engine.predict(KEY, new Float32Array(3), [1, 3]),
      expectCode('bad_request', /does not fit/),
    );
    await assert.rejects(
      engine.predict(KEY, new Float32Array(5), [1, 4]),
      expectCode('bad_request'),
    );
    await assert.rejects(
      engine.predictTensors(KEY, [
        { name: 'features', data: new Float32Array(4), shape: [1, 4] },
        { name: 'x', data: new Float32Array(8), shape: [2, 4] },
      ]),
      expectCode('bad_request'),
    );
    // Symbolic feature dimension: the batcher lets 3 features through, ONNX Runtime refuses.
    const loose = modelKey('loose', 1);
    await engine.load(loose, onnxFiles({ inputDims: ['F'] }), { runtime: ONNX });
    await assert.rejects(
      engine.predict(loose, new Float32Array(3), [1, 3]),
      expectCode('bad_request', /model loose@1/),
    );
    const good = await engine.predict(loose, rows(1, 3), [1, FEATURES]);
    assertClose(good.output, expected(rows(1, 3)), 'after the failure');
    await engine.unload(loose);
    const x = rows(1, 9);
    assertClose((await engine.predict(KEY, x.slice(), [1, FEATURES])).output, expected(x), 'still');
  });

  test('a file ONNX Runtime cannot load is an integrity error and nothing is left loaded', async () => {
    const key = modelKey('broken', 1);
    await assert.rejects(
      engine.load(key, { 'model.onnx': new TextEncoder().encode('not onnx') }, { runtime: ONNX }),
      expectCode('integrity', /ONNX Runtime cannot load/),
    );
    await assert.rejects(
      engine.load(key, { 'other.bin': new Uint8Array(4) }, { runtime: ONNX }),
      expectCode('integrity', /has no model\.onnx/),
    );
    // A declared shape the graph contradicts: loaded, then undone.
    await assert.rejects(
      engine.load(key, onnxFiles(), { runtime: ONNX, inputShape: [-1, 5] }),
      expectCode('integrity', /takes input/),
    );
    assert.equal(engine.has(key), false);
    assert.equal(engine.stats().inProcess?.models, 1);
    await assert.rejects(engine.predict(key, rows(1, 1), [1, 4]), expectCode('not_found'));
  });

  test('unload answers the accepted requests first; then not_found; a new version loads', async () => {
    const v2 = modelKey('dense', 2);
    await engine.load(v2, onnxFiles(), { runtime: ONNX });
    await assert.rejects(engine.load(v2, onnxFiles(), { runtime: ONNX }), expectCode('conflict'));
    const inputs = Array.from({ length: 10 }, (_, i) => rows(1, 100 + i));
    const accepted = inputs.map((x) => engine.predict(v2, x.slice(), [1, FEATURES]));
    const unloading = engine.unload(v2);
    await assert.rejects(engine.predict(v2, rows(1, 1), [1, 4]), expectCode('not_found'));
    const answers = await Promise.all(accepted);
    answers.forEach((a, i) => assertClose(a.output, expected(inputs[i] as Float32Array), `${i}`));
    await unloading;
    assert.equal(engine.has(v2), false);
    await assert.rejects(engine.unload(v2), expectCode('not_found'));
    // The same key again, as a hot reload back to it would.
    await engine.load(v2, onnxFiles(), { runtime: ONNX });
    assert.equal(engine.stats().inProcess?.models, 2);
    await engine.unload(v2);
  });

  test('close answers every accepted request, then refuses with unavailable', async () => {
    const local = await InferenceEngine.start({
      workers: 1,
      backend: 'wasm',
      onnxInProcess: true,
      onnxThreads: 1,
    });
    await local.load(KEY, onnxFiles(), { runtime: ONNX });
    const inputs = Array.from({ length: 20 }, (_, i) => rows(2, i));
    const accepted = inputs.map((x) => local.predict(KEY, x.slice(), [2, FEATURES]));
    const closing = local.close();
    await assert.rejects(local.predict(KEY, rows(1, 1), [1, 4]), expectCode('unavailable'));
    const answers = await Promise.all(accepted);
    answers.forEach((a, i) => assertClose(a.output, expected(inputs[i] as Float32Array), `${i}`));
    await closing;
    assert.equal(local.stats().inProcess?.models, 0);
  });
});

describe('InProcessModels on its own', () => {
  test('threads must be a positive integer', () => {
    for (const threads of [0, -1, 1.5, NaN]) {
      assert.throws(() => new InProcessModels({ threads }), expectCode('config'));
    }
  });

  test('only ONNX runs in process; unknown keys and empty inputs are refused', async () => {
    const models = new InProcessModels({ threads: 1 });
    try {
      await assert.rejects(
        models.load('m@1', {}, { engine: 'tfjs', file: 'model.json' }),
        expectCode('internal', /only ONNX Runtime/),
      );
      await assert.rejects(models.predictTensors('m@1', []), expectCode('not_found'));
      await models.load('m@1', onnxFiles(), ONNX);
      await assert.rejects(models.predictTensors('m@1', []), expectCode('bad_request'));
      await assert.rejects(
        models.predictTensors('m@1', [
          { name: 'features', data: new Float32Array(3), shape: [1, 4] },
        ]),
        expectCode('bad_request'),
      );
      assert.deepEqual(models.keys(), ['m@1']);
      assert.deepEqual(models.signature('m@1')?.inputShape, [-1, FEATURES]);
    } finally {
      await models.close();
    }
    await assert.rejects(models.load('m@2', onnxFiles(), ONNX), expectCode('unavailable'));
  });
});
