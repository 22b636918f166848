import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { isMscrError } from '../../connectors/errors.ts';
import { modelToFiles } from '../../connectors/ms/artifacts.ts';
import { initBackend } from '../../runtime/backend/index.ts';
import {
  InferenceEngine,
  WorkerPool,
  mergeShapes,
  modelKey,
  type EngineBatchStats,
  type PoolEvent,
} from './index.ts';

// A variable, so that tsc does not look for the optional package.
const TFJS_NODE = '@tensorflow/tfjs-node';

const DENSE = modelKey('dense', 1);
const CONV = modelKey('conv', 1);

function denseModel(): tf.LayersModel {
  return tf.sequential({
    layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: 'softmax' })],
  });
}

function convModel(): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: [8, 8, 3],
        filters: 4,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
      }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 5, activation: 'softmax' }),
    ],
  });
}

/** `rows` distinct rows of `width` values. */
function inputs(rows: number, width: number, seed = 1): Float32Array {
  return Float32Array.from({ length: rows * width }, (_, i) => Math.sin(seed * 7.1 + i * 0.37) * 2);
}

function reference(model: tf.LayersModel, input: Float32Array, shape: number[]): Float32Array {
  return tf.tidy(() =>
    Float32Array.from((model.predict(tf.tensor(input, shape)) as tf.Tensor).dataSync()),
  );
}

function assertClose(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  actual.forEach((v, i) => {
    assert.ok(Math.abs(v - (expected[i] ?? NaN)) <= 1e-5, `${what}[${i}]: ${v} vs ${expected[i]}`);
  });
}

function expectCode(code: string, message?: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(isMscrError(error), `expected MscrError(${code}), got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (message) assert.match(error.message, message);
    return true;
  };
}

describe('InferenceEngine on a pool of 2 workers', () => {
  let engine: InferenceEngine;
  let dense: tf.LayersModel;
  let conv: tf.LayersModel;
  const batches: EngineBatchStats[] = [];

  before(async () => {
    await initBackend();
    dense = denseModel();
    conv = convModel();
    engine = await InferenceEngine.start({
      workers: 2,
      batching: { maxBatchSize: 16, maxQueueDelayMs: 5 },
    });
    engine.onBatch((stats) => batches.push(stats));
    const loaded = await engine.load(DENSE, await modelToFiles(dense));
    assert.deepEqual(loaded, {
      key: DENSE,
      engine: 'tfjs',
      inputShape: [-1, 4],
      outputShape: [-1, 3],
    });
    await engine.load(CONV, await modelToFiles(conv), { inputShape: [-1, 8, 8, 3] });
  });

  after(async () => {
    await engine?.close();
  });

  test('predictions equal model.predict in the main thread', async () => {
    const x = inputs(5, 4);
    const out = await engine.predict(DENSE, x.slice(), [5, 4]);
    assert.deepEqual(out.shape, [5, 3]);
    assertClose(out.output, reference(dense, x, [5, 4]), 'dense');

    const images = inputs(3, 8 * 8 * 3, 2);
    const convOut = await engine.predict(CONV, images.slice(), [3, 8, 8, 3]);
    assert.deepEqual(convOut.shape, [3, 5]);
    assertClose(convOut.output, reference(conv, images, [3, 8, 8, 3]), 'conv');
  });

  test('50 concurrent single-row requests are batched and each gets its own row', async () => {
    batches.length = 0;
    const x = inputs(50, 4, 3);
    const expected = reference(dense, x, [50, 4]);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        engine.predict(DENSE, x.slice(i * 4, i * 4 + 4), [1, 4]),
      ),
    );
    results.forEach((r, i) => {
      assert.deepEqual(r.shape, [1, 3]);
      assertClose(r.output, expected.slice(i * 3, i * 3 + 3), `row ${i}`);
    });
    const sizes = batches.filter((b) => b.key === DENSE).map((b) => b.size);
    assert.equal(
      sizes.reduce((a, b) => a + b, 0),
      50,
    );
    assert.ok(
      sizes.some((s) => s > 1),
      `expected a batch of more than one row: ${sizes.join(',')}`,
    );
    assert.ok(sizes.every((s) => s <= 16));
    // Both workers served some of the batches.
    assert.ok(engine.stats().workers.every((w) => w.served > 0));
  });

  test('a request of the wrong shape fails alone; good ones in the same window succeed', async () => {
    batches.length = 0;
    const x = inputs(6, 4, 4);
    const expected = reference(dense, x, [6, 4]);
    const good = Array.from({ length: 6 }, (_, i) =>
      engine.predict(DENSE, x.slice(i * 4, i * 4 + 4), [1, 4]),
    );
    const wrongWidth = engine.predict(DENSE, new Float32Array(5), [1, 5]);
    const wrongRank = engine.predict(DENSE, new Float32Array(4), [4]);
    await assert.rejects(wrongWidth, expectCode('bad_request', /dimension 1 is 5, expected 4/));
    await assert.rejects(wrongRank, expectCode('bad_request', /rank 1/));
    const results = await Promise.all(good);
    results.forEach((r, i) => assertClose(r.output, expected.slice(i * 3, i * 3 + 3), `row ${i}`));
    // The six good rows were batched (spread over the free batch slots), the bad ones not.
    const sizes = batches.map((b) => b.size);
    assert.equal(
      sizes.reduce((a, b) => a + b, 0),
      6,
    );
    assert.ok(
      sizes.some((s) => s > 1),
      `sizes ${sizes.join(',')}`,
    );
  });

  test('a worker that fails a request answers with the error and keeps serving', async () => {
    // Straight to the pool, past the batcher's checks: tfjs itself rejects the shape.
    const pool = engine.workerPool;
    await assert.rejects(
      pool.predict(DENSE, new Float32Array(4), [1, 5]),
      expectCode('bad_request', /holds 5 values, but the input has 4/),
    );
    await assert.rejects(
      pool.predict(DENSE, new Float32Array(5), [1, 5]),
      expectCode('bad_request', /expected .* to have shape \[null,4\]/),
    );
    const out = await pool.predict(DENSE, inputs(1, 4), [1, 4]);
    assert.deepEqual(out.shape, [1, 3]);
    assert.ok(pool.stats().every((w) => w.restarts === 0 && w.state === 'ready'));
  });

  test('unknown keys are not_found; loading a loaded key is a conflict', async () => {
    await assert.rejects(engine.predict('nope@1', inputs(1, 4), [1, 4]), expectCode('not_found'));
    await assert.rejects(
      engine.workerPool.predict('nope@1', inputs(1, 4), [1, 4]),
      expectCode('not_found'),
    );
    await assert.rejects(engine.unload('nope@1'), expectCode('not_found'));
    await assert.rejects(engine.load(DENSE, await modelToFiles(dense)), expectCode('conflict'));
  });

  test('unload drains the model; a later load serves again', async () => {
    const key = modelKey('dense', 2);
    const model = denseModel();
    await engine.load(key, await modelToFiles(model));
    const x = inputs(1, 4, 5);
    const inFlight = engine.predict(key, x.slice(), [1, 4]);
    await engine.unload(key);
    assertClose((await inFlight).output, reference(model, x, [1, 4]), 'accepted before unload');
    await assert.rejects(engine.predict(key, x.slice(), [1, 4]), expectCode('not_found'));
    assert.deepEqual(engine.workerPool.keys().sort(), [CONV, DENSE]);
    await engine.load(key, await modelToFiles(model));
    assertClose(
      (await engine.predict(key, x.slice(), [1, 4])).output,
      reference(model, x, [1, 4]),
      'reloaded',
    );
    await engine.unload(key);
  });

  test('broken or unservable models fail to load and are not kept', async () => {
    const broken = new Map([['model.json', new TextEncoder().encode('{not json')]]);
    await assert.rejects(engine.load('broken@1', broken), expectCode('integrity'));
    assert.equal(engine.has('broken@1'), false);
    assert.equal(engine.workerPool.has('broken@1'), false);
    await assert.rejects(
      engine.load('wrong@1', await modelToFiles(dense), { inputShape: [-1, 5] }),
      expectCode('integrity', /takes input \[-1,4\], but \[-1,5\] was declared/),
    );
    assert.equal(engine.workerPool.has('wrong@1'), false);
  });
});

describe('mergeShapes', () => {
  test('takes the fixed size where one side says -1; conflicts are integrity errors', () => {
    assert.deepEqual(mergeShapes('m@1', [-1, 4], undefined), [-1, 4]);
    assert.deepEqual(mergeShapes('m@1', [-1, -1, 3], [-1, 8, -1]), [-1, 8, 3]);
    assert.throws(() => mergeShapes('m@1', [-1, 4], [-1, 4, 1]), expectCode('integrity'));
    assert.throws(() => mergeShapes('m@1', [-1, 4], [-1, 3]), expectCode('integrity'));
  });
});

describe('worker failures and shutdown', () => {
  let engine: InferenceEngine;
  let model: tf.LayersModel;

  before(async () => {
    await initBackend();
    model = convModel();
    engine = await InferenceEngine.start({ workers: 2 });
    await engine.load(CONV, await modelToFiles(model));
  });

  after(async () => {
    await engine?.close();
  });

  /** Six requests on the replacement and the survivor: all succeed. */
  async function servesOnBothWorkers(): Promise<void> {
    const pool = engine.workerPool;
    const x = inputs(2, 8 * 8 * 3, 6);
    const expected = reference(model, x, [2, 8, 8, 3]);
    const results = await Promise.all(
      Array.from({ length: 6 }, () => pool.predict(CONV, x.slice(), [2, 8, 8, 3])),
    );
    for (const r of results) assertClose(r.output, expected, 'after restart');
  }

  test('a worker terminated mid-request fails that request and is replaced', async () => {
    const pool = engine.workerPool;
    const x = inputs(2, 8 * 8 * 3, 6);
    const doomed = pool.predict(CONV, x.slice(), [2, 8, 8, 3]);
    const busy = pool.stats().find((w) => w.inFlightRequests > 0);
    assert.ok(busy, 'the request is in flight on some worker');
    pool.killWorker(busy.worker, 'terminate');
    await assert.rejects(doomed, expectCode('unavailable', /exited/));
    await pool.whenAllReady();
    assert.deepEqual(
      pool.stats().map((w) => [w.worker, w.restarts]),
      [0, 1].map((i) => [i, i === busy.worker ? 1 : 0]),
    );
    await servesOnBothWorkers();
  });

  test('a worker that calls process.exit is replaced; only its request fails', async () => {
    const pool = engine.workerPool;
    const before = pool.stats().map((w) => w.restarts);
    pool.killWorker(0, 'exit');
    // Least-busy dispatch puts one request on each worker; worker 0 exits before answering.
    const x = inputs(1, 8 * 8 * 3, 8);
    const results = await Promise.allSettled([
      pool.predict(CONV, x.slice(), [1, 8, 8, 3]),
      pool.predict(CONV, x.slice(), [1, 8, 8, 3]),
    ]);
    const failed = results.filter((r) => r.status === 'rejected');
    assert.equal(failed.length, 1);
    assert.ok(isMscrError(failed[0]?.reason, 'unavailable'));
    await pool.whenAllReady();
    assert.deepEqual(
      pool.stats().map((w) => w.restarts),
      [(before[0] ?? 0) + 1, before[1]],
    );
    await servesOnBothWorkers();
  });

  test('close() answers in-flight requests, then refuses new ones', async () => {
    const x = inputs(20, 8 * 8 * 3, 7);
    const expected = reference(model, x, [20, 8, 8, 3]);
    const size = 8 * 8 * 3;
    const pending = Array.from({ length: 20 }, (_, i) =>
      engine.predict(CONV, x.slice(i * size, (i + 1) * size), [1, 8, 8, 3]),
    );
    const closed = engine.close();
    await assert.rejects(
      engine.predict(CONV, x.slice(0, size), [1, 8, 8, 3]),
      expectCode('unavailable'),
    );
    const results = await Promise.all(pending);
    results.forEach((r, i) => assertClose(r.output, expected.slice(i * 5, i * 5 + 5), `row ${i}`));
    await closed;
    assert.ok(engine.workerPool.stats().every((w) => w.state === 'exited'));
    await engine.close();
  });
});

describe('WorkerPool start-up', () => {
  test('invalid sizes are config errors', async () => {
    await assert.rejects(WorkerPool.start({ size: 0 }), expectCode('config'));
    await assert.rejects(InferenceEngine.start({ workers: 1.5 }), expectCode('config'));
    await assert.rejects(
      InferenceEngine.start({ workers: 1, batching: { maxBatchSize: 0 } }),
      expectCode('config'),
    );
  });

  test('a backend the workers cannot bring up fails start() with its reason', async (t) => {
    const hasTfjsNode = await import(TFJS_NODE).then(
      () => true,
      () => false,
    );
    if (hasTfjsNode) {
      t.skip('@tensorflow/tfjs-node is installed');
      return;
    }
    const events: PoolEvent[] = [];
    await assert.rejects(
      WorkerPool.start({ size: 1, backend: 'tensorflow', onEvent: (e) => events.push(e) }),
      expectCode('config', /tfjs-node/),
    );
    assert.equal(events[0]?.type, 'worker_start_failed');
  });
});
