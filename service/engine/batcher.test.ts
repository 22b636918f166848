import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { isMscrError, MscrError } from '../../connectors/errors.ts';
import {
  Batcher,
  checkInput,
  type BatchOutput,
  type BatchStats,
  type RunBatch,
} from './batcher.ts';

/** A row of `width` values, all equal to `value`. */
function row(value: number, width = 2): Float32Array {
  return new Float32Array(width).fill(value);
}

/** A fake model: output = input * 10, same shape. Records every call. */
function fakeRun(options: { failOn?: number; error?: () => unknown } = {}): {
  run: RunBatch;
  calls: number[][];
} {
  const calls: number[][] = [];
  const run: RunBatch = async (input, shape) => {
    calls.push([...shape]);
    await Promise.resolve();
    if (options.failOn !== undefined && input.includes(options.failOn)) {
      throw options.error?.() ?? new Error(`poison ${options.failOn}`);
    }
    return { output: input.map((v) => v * 10), shape: [...shape] };
  };
  return { run, calls };
}

/** A run whose calls stay pending until released. */
function gatedRun(): { run: RunBatch; calls: number[][]; release: () => void } {
  const calls: number[][] = [];
  const gates: (() => void)[] = [];
  const run: RunBatch = async (input, shape) => {
    calls.push([...shape]);
    await new Promise<void>((resolve) => gates.push(resolve));
    return { output: input.slice(), shape: [...shape] };
  };
  return { run, calls, release: () => gates.splice(0).forEach((open) => open()) };
}

function sizes(stats: BatchStats[]): number[] {
  return stats.map((s) => s.size);
}

function expectCode(code: string): (error: unknown) => boolean {
  return (error) => {
    assert.ok(isMscrError(error), `expected MscrError(${code}), got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  };
}

/** Lets the batcher's end-of-turn dispatch (setImmediate) run. */
async function endOfTurn(): Promise<void> {
  // Twice: a batch that just finished schedules its follow-up dispatch in the first turn.
  for (let i = 0; i < 2; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('checkInput', () => {
  test('accepts shapes that fit, -1 meaning any size', () => {
    checkInput(new Float32Array(8), [2, 4], [-1, 4]);
    checkInput(new Float32Array(24), [2, 3, 4], [-1, -1, 4]);
    checkInput(new Float32Array(3), [3]);
  });

  test('rejects what does not fit, saying why', () => {
    const cases: [Float32Array, number[], number[] | undefined, RegExp][] = [
      [new Float32Array(5), [1, 5], [-1, 4], /dimension 1 is 5, expected 4/],
      [new Float32Array(4), [4], [-1, 4], /rank 1/],
      [new Float32Array(8), [2, 3], [-1, 3], /holds 6 values, but the input has 8/],
      [new Float32Array(0), [0, 4], [-1, 4], /positive integers/],
      [new Float32Array(4), [1.5, 4], undefined, /positive integers/],
      [new Float32Array(4), [], undefined, /non-empty/],
    ];
    for (const [input, shape, expected, message] of cases) {
      assert.throws(
        () => checkInput(input, shape, expected),
        (error: unknown) => {
          assert.ok(isMscrError(error, 'bad_request'));
          assert.match(error.message, message);
          return true;
        },
      );
    }
    assert.throws(
      () => checkInput([1, 2] as unknown as Float32Array, [1, 2]),
      expectCode('bad_request'),
    );
  });
});

describe('Batcher', () => {
  test('a full batch leaves at once; the rest after the queue delay', async (t) => {
    // The delay timer is mocked and long: on a loaded machine a real short delay can run out
    // (the batcher reads performance.now(), which the mock does not move) before the end of
    // the turn, and the test would no longer show which batches waited for it.
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { run, calls } = fakeRun();
    const batcher = new Batcher(run, { maxBatchSize: 4, maxQueueDelayMs: 10_000 });
    const seen: BatchStats[] = [];
    batcher.onBatch((s) => seen.push(s));
    const results = Array.from({ length: 10 }, (_, i) => batcher.submit(row(i), [1, 2]));
    assert.deepEqual(sizes(seen), []);
    // Two full batches leave at the end of this turn; the last two rows wait for the delay.
    await endOfTurn();
    assert.deepEqual(sizes(seen), [4, 4]);
    await endOfTurn();
    assert.deepEqual(sizes(seen), [4, 4], 'the partial batch waits for its delay');
    t.mock.timers.tick(10_000);
    const outputs = await Promise.all(results);
    assert.deepEqual(sizes(seen), [4, 4, 2]);
    assert.deepEqual(calls, [
      [4, 2],
      [4, 2],
      [2, 2],
    ]);
    outputs.forEach((out, i) => {
      assert.deepEqual(out.shape, [1, 2]);
      assert.deepEqual([...out.output], [i * 10, i * 10]);
    });
    assert.ok(seen.every((s) => s.queueMs >= 0 && s.requests === s.size));
  });

  test('requests within the delay share a batch; a later one starts a new batch', async () => {
    const { run } = fakeRun();
    const batcher = new Batcher(run, { maxBatchSize: 32, maxQueueDelayMs: 5 });
    const seen: BatchStats[] = [];
    batcher.onBatch((s) => seen.push(s));
    await Promise.all([1, 2, 3].map((v) => batcher.submit(row(v), [1, 2])));
    assert.deepEqual(sizes(seen), [3]);
    await batcher.submit(row(4), [1, 2]);
    assert.deepEqual(sizes(seen), [3, 1]);
  });

  test('multi-row requests: rows are split back in order; a batch never exceeds maxBatchSize', async () => {
    const { run, calls } = fakeRun();
    const batcher = new Batcher(run, { maxBatchSize: 4, maxQueueDelayMs: 5 });
    const a = batcher.submit(new Float32Array([1, 1, 2, 2, 3, 3]), [3, 2]);
    const b = batcher.submit(new Float32Array([4, 4, 5, 5]), [2, 2]);
    const c = batcher.submit(new Float32Array([6, 6]), [1, 2]);
    const big = batcher.submit(new Float32Array(12).fill(7), [6, 2]);
    const [ra, rb, rc, rbig] = await Promise.all([a, b, c, big]);
    // a (3 rows) leaves when b would overflow it; b + c fill the next; big (6 > 4) runs alone.
    assert.deepEqual(calls, [
      [3, 2],
      [3, 2],
      [6, 2],
    ]);
    assert.deepEqual([...(ra?.output ?? [])], [10, 10, 20, 20, 30, 30]);
    assert.deepEqual(ra?.shape, [3, 2]);
    assert.deepEqual([...(rb?.output ?? [])], [40, 40, 50, 50]);
    assert.deepEqual(rb?.shape, [2, 2]);
    assert.deepEqual([...(rc?.output ?? [])], [60, 60]);
    assert.deepEqual(rbig?.shape, [6, 2]);
  });

  test('requests of different rest-shapes are never batched together', async () => {
    const { run, calls } = fakeRun();
    const batcher = new Batcher(run, { maxBatchSize: 8, maxQueueDelayMs: 5 });
    const results = await Promise.all([
      batcher.submit(row(1, 2), [1, 2]),
      batcher.submit(row(2, 3), [1, 3]),
      batcher.submit(row(3, 2), [1, 2]),
      batcher.submit(row(4, 3), [1, 3]),
      batcher.submit(new Float32Array(6).fill(5), [1, 3, 2]),
    ]);
    assert.deepEqual(calls.map((c) => c.join('x')).sort(), ['1x3x2', '2x2', '2x3']);
    assert.deepEqual(
      results.map((r) => r.output[0]),
      [10, 20, 30, 40, 50],
    );
  });

  test('enabled: false and maxBatchSize: 1 run every request alone', async () => {
    for (const options of [{ enabled: false }, { maxBatchSize: 1 }]) {
      const { run, calls } = fakeRun();
      const batcher = new Batcher(run, { maxQueueDelayMs: 50, ...options });
      const seen: BatchStats[] = [];
      batcher.onBatch((s) => seen.push(s));
      const results = [1, 2, 3].map((v) => batcher.submit(row(v), [1, 2]));
      // Nothing waits for the delay: all three leave at the end of this turn.
      await endOfTurn();
      assert.deepEqual(sizes(seen), [1, 1, 1]);
      await Promise.all(results);
      assert.equal(calls.length, 3);
    }
  });

  test('a model with a fixed batch dimension gets no batching', async () => {
    const { run, calls } = fakeRun();
    const batcher = new Batcher(run, { maxBatchSize: 8, maxQueueDelayMs: 50, inputShape: [1, 2] });
    await Promise.all([batcher.submit(row(1), [1, 2]), batcher.submit(row(2), [1, 2])]);
    assert.deepEqual(calls, [
      [1, 2],
      [1, 2],
    ]);
    await assert.rejects(batcher.submit(new Float32Array(4), [2, 2]), expectCode('bad_request'));
  });

  test('a bad request fails alone before joining a batch; the others share one', async () => {
    const { run, calls } = fakeRun();
    const batcher = new Batcher(run, { maxBatchSize: 8, maxQueueDelayMs: 5, inputShape: [-1, 2] });
    const good = [1, 2, 3].map((v) => batcher.submit(row(v), [1, 2]));
    const bad = batcher.submit(row(9, 3), [1, 3]);
    await assert.rejects(bad, (error: unknown) => {
      assert.ok(isMscrError(error, 'bad_request'));
      assert.match(error.message, /dimension 1 is 3, expected 2/);
      return true;
    });
    const outputs = await Promise.all(good);
    assert.deepEqual(
      outputs.map((o) => o.output[0]),
      [10, 20, 30],
    );
    assert.deepEqual(calls, [[3, 2]]);
  });

  test('a failing batch is re-run one request at a time so only the culprit fails', async () => {
    const { run, calls } = fakeRun({ failOn: 13 });
    const batcher = new Batcher(run, { maxBatchSize: 8, maxQueueDelayMs: 5 });
    const results = await Promise.allSettled(
      [11, 12, 13, 14].map((v) => batcher.submit(row(v), [1, 2])),
    );
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'fulfilled', 'rejected', 'fulfilled'],
    );
    const failed = results[2];
    assert.ok(failed?.status === 'rejected');
    assert.match(String(failed.reason), /poison 13/);
    assert.deepEqual(calls, [
      [4, 2],
      [1, 2],
      [1, 2],
      [1, 2],
      [1, 2],
    ]);
    assert.equal(batcher.stats().fallbacks, 1);
  });

  test("'unavailable' fails the whole batch without re-running it", async () => {
    const { run, calls } = fakeRun({
      failOn: 13,
      error: () => new MscrError('unavailable', 'worker exited'),
    });
    const batcher = new Batcher(run, { maxBatchSize: 8, maxQueueDelayMs: 5 });
    const results = await Promise.allSettled([12, 13].map((v) => batcher.submit(row(v), [1, 2])));
    assert.ok(
      results.every((r) => r.status === 'rejected' && isMscrError(r.reason, 'unavailable')),
    );
    assert.equal(calls.length, 1);
  });

  test('an output with the wrong number of rows fails the batch as internal', async () => {
    const run: RunBatch = async () => ({ output: new Float32Array(2), shape: [1, 2] });
    const batcher = new Batcher(run, { maxBatchSize: 8, maxQueueDelayMs: 5 });
    const results = await Promise.allSettled([1, 2].map((v) => batcher.submit(row(v), [1, 2])));
    assert.ok(results.every((r) => r.status === 'rejected' && isMscrError(r.reason, 'internal')));
  });

  test('the queue is bounded: beyond maxQueueRows requests fail at once', async () => {
    const { run, release } = gatedRun();
    const batcher = new Batcher(run, { maxBatchSize: 2, maxQueueDelayMs: 5, maxQueueRows: 4 });
    const accepted = [1, 2, 3].map((v) => batcher.submit(row(v), [1, 2]));
    await assert.rejects(batcher.submit(new Float32Array(4), [2, 2]), (error: unknown) => {
      assert.ok(isMscrError(error, 'unavailable'));
      assert.equal(error.message, 'queue full');
      return true;
    });
    accepted.push(batcher.submit(row(4), [1, 2]));
    await assert.rejects(batcher.submit(row(5), [1, 2]), expectCode('unavailable'));
    await assert.rejects(
      batcher.submit(new Float32Array(10), [5, 2]),
      expectCode('payload_too_large'),
    );
    assert.equal(batcher.stats().pendingRows, 4);
    // Answered rows free their places.
    const timer = setInterval(release, 1);
    await Promise.all(accepted);
    await batcher.submit(row(6), [1, 2]);
    clearInterval(timer);
    assert.equal(batcher.stats().pendingRows, 0);
  });

  test('the next batch leaves as soon as the model answers, before that batch is answered', async () => {
    // Under load the main thread spends a while answering a batch (encode, write); the model
    // must not sit idle meanwhile with the next batch already queued.
    for (const firstRows of [1, 2]) {
      const { run, calls, release } = gatedRun();
      const batcher = new Batcher(run, {
        maxBatchSize: 4,
        maxQueueDelayMs: 0,
        maxInFlightBatches: 1,
      });
      const first = Array.from({ length: firstRows }, (_, i) => batcher.submit(row(i), [1, 2]));
      await endOfTurn();
      const queued = batcher.submit(row(9), [1, 2]);
      await endOfTurn();
      assert.equal(calls.length, 1);
      let callsWhenAnswered = -1;
      const answered = first[0]?.then(() => (callsWhenAnswered = calls.length));
      release();
      await answered;
      assert.equal(callsWhenAnswered, 2, `a first batch of ${firstRows} row(s)`);
      release();
      assert.equal((await queued).output[0], 9);
      await Promise.all(first);
    }
  });

  test('with every batch slot busy, requests wait and fill the next batch', async () => {
    const { run, calls, release } = gatedRun();
    const batcher = new Batcher(run, {
      maxBatchSize: 4,
      maxQueueDelayMs: 0,
      maxInFlightBatches: 1,
    });
    const first = batcher.submit(row(0), [1, 2]);
    await endOfTurn();
    assert.deepEqual(calls, [[1, 2]]);
    const rest = Array.from({ length: 6 }, (_, i) => batcher.submit(row(i + 1), [1, 2]));
    await endOfTurn();
    assert.deepEqual(calls, [[1, 2]]);
    assert.deepEqual(batcher.stats(), {
      queuedRows: 6,
      pendingRows: 7,
      inFlightBatches: 1,
      batches: 1,
      fallbacks: 0,
    });
    release();
    await first;
    await endOfTurn();
    assert.deepEqual(calls, [
      [1, 2],
      [4, 2],
    ]);
    release();
    await endOfTurn();
    release();
    const outputs = await Promise.all(rest);
    assert.deepEqual(calls, [
      [1, 2],
      [4, 2],
      [2, 2],
    ]);
    assert.deepEqual(
      outputs.map((o) => o.output[0]),
      [1, 2, 3, 4, 5, 6],
    );
  });

  test('maxQueueDelayMs 0 batches what arrives in the same turn', async () => {
    const { run, calls } = fakeRun();
    const batcher = new Batcher(run, { maxBatchSize: 8, maxQueueDelayMs: 0 });
    const results = [1, 2, 3].map((v) => batcher.submit(row(v), [1, 2]));
    assert.equal(calls.length, 0);
    await Promise.all(results);
    await batcher.submit(row(4), [1, 2]);
    assert.deepEqual(calls, [
      [3, 2],
      [1, 2],
    ]);
  });

  test('a batch leaving on the delay is spread over the free slots', async () => {
    const { run, calls, release } = gatedRun();
    const batcher = new Batcher(run, {
      maxBatchSize: 16,
      maxQueueDelayMs: 5,
      maxInFlightBatches: 2,
    });
    const results = Array.from({ length: 10 }, (_, i) => batcher.submit(row(i), [1, 2]));
    const timer = setInterval(release, 1);
    const outputs = await Promise.all(results);
    clearInterval(timer);
    assert.deepEqual(calls, [
      [5, 2],
      [5, 2],
    ]);
    assert.deepEqual(
      outputs.map((o) => o.output[0]),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
  });

  test('close() sends queued requests without waiting for the delay, then refuses new ones', async () => {
    const { run, calls } = fakeRun();
    const batcher = new Batcher(run, { maxBatchSize: 32, maxQueueDelayMs: 60_000 });
    const results = [1, 2, 3].map((v) => batcher.submit(row(v), [1, 2]));
    await endOfTurn();
    assert.equal(calls.length, 0);
    await batcher.close();
    assert.deepEqual(calls, [[3, 2]]);
    assert.equal((await Promise.all(results)).length, 3);
    await assert.rejects(batcher.submit(row(4), [1, 2]), expectCode('unavailable'));
  });

  test('listeners can unsubscribe, and a throwing listener does not break batching', async () => {
    const { run } = fakeRun();
    const batcher = new Batcher(run, { maxBatchSize: 2, maxQueueDelayMs: 5 });
    const seen: BatchStats[] = [];
    const off = batcher.onBatch((s) => seen.push(s));
    batcher.onBatch(() => {
      throw new Error('bad listener');
    });
    await Promise.all([batcher.submit(row(1), [1, 2]), batcher.submit(row(2), [1, 2])]);
    off();
    const out: BatchOutput = await batcher.submit(row(3), [1, 2]);
    assert.equal(out.output[0], 30);
    assert.deepEqual(sizes(seen), [2]);
  });

  test('invalid options are config errors', () => {
    const { run } = fakeRun();
    for (const options of [
      { maxBatchSize: 0 },
      { maxBatchSize: 2.5 },
      { maxQueueDelayMs: -1 },
      { maxQueueRows: 0 },
      { maxInFlightBatches: 0 },
    ]) {
      assert.throws(() => new Batcher(run, options), expectCode('config'));
    }
  });
});
