import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isMscrError } from '../../connectors/errors.ts';
import { cifarManifest, stockManifest } from '../protocols/test-manifests.ts';
import { imageExtensionOf, parseFeedbackRequest, truthOf } from './feedback.ts';
import { tensorRows } from './index.ts';
import { PredictionLog } from './prediction-log.ts';
import { naiveForecastOf, predictionsOf } from './predictions.ts';
import { Signals, confidenceBin } from './signals.ts';

const MiB = 1024 * 1024;
const predicted = { kind: 'class', index: 0, label: 'airplane', confidence: 0.9 } as const;

function entry(input?: Uint8Array) {
  return {
    model: 'm',
    version: 1,
    manifest: cifarManifest,
    at: 0,
    predicted,
    ...(input
      ? { input: { kind: 'image' as const, bytes: input, extension: 'png' as const } }
      : {}),
  };
}

test('the prediction log keeps the newest entries within its entry and byte budgets', () => {
  const log = new PredictionLog({ maxEntries: 3, maxBytes: MiB });
  const ids = Array.from({ length: 5 }, () => log.add(entry()));
  assert.equal(log.size, 3);
  assert.equal(log.get(ids[0] as string), undefined);
  assert.equal(log.get(ids[1] as string), undefined);
  assert.equal(log.get(ids[4] as string)?.model, 'm');

  const bytes = new PredictionLog({ maxEntries: 100, maxBytes: MiB });
  const big = new Uint8Array(MiB / 64); // the most one input may take
  const kept = Array.from({ length: 70 }, () => bytes.add(entry(big)));
  assert.ok(bytes.bytes <= MiB, `${bytes.bytes} bytes`);
  assert.ok(bytes.size < 70 && bytes.size > 50, `${bytes.size} entries`);
  assert.equal(bytes.get(kept[0] as string), undefined, 'the oldest went first');
  assert.ok(bytes.get(kept[69] as string)?.input, 'the newest kept its input');

  const huge = bytes.add(entry(new Uint8Array(MiB / 64 + 1)));
  assert.equal(bytes.get(huge)?.input, undefined, 'an input over 1/64 of the budget is left out');
  assert.equal(bytes.get(huge)?.predicted, predicted);

  const off = new PredictionLog({ maxEntries: 0, maxBytes: MiB });
  assert.equal(off.get(off.add(entry())), undefined);
});

test('predictions: top class per row for classifiers, values in data units for forecasters', () => {
  const probabilities = new Float32Array(20);
  probabilities[3] = 0.7;
  probabilities[10 + 9] = 0.6;
  const classes = predictionsOf({
    model: 'c',
    version: 1,
    manifest: cifarManifest,
    output: probabilities,
    shape: [2, 10],
  });
  assert.deepEqual(
    classes?.map((p) => p.kind === 'class' && [p.index, p.label]),
    [
      [3, 'cat'],
      [9, 'truck'],
    ],
  );
  const values = predictionsOf({
    model: 's',
    version: 1,
    manifest: stockManifest,
    output: Float32Array.from([1]),
    shape: [1, 1],
  });
  assert.equal(values?.[0]?.kind, 'value');
  assert.equal(
    predictionsOf({
      model: 'c',
      version: 1,
      manifest: cifarManifest,
      output: new Float32Array(3),
      shape: [1, 3],
    }),
    undefined,
    'an output that does not fit the labels is not monitored',
  );
});

test('signals: one window per serving version; other versions stay out; feedback judged for its version only', () => {
  let now = Date.parse('2025-01-01T00:00:00Z');
  const signals = new Signals(() => new Date(now));
  const labels = ['a', 'b'];
  const cls = (index: number, confidence: number) =>
    ({ kind: 'class', index, label: labels[index] as string, confidence }) as const;
  signals.restart('m', 1);
  signals.observe('m', 1, labels, [cls(0, 0.95), cls(1, 0.55), cls(0, 1)]);
  signals.observe('m', 7, labels, [cls(1, 0.5)]); // an explicitly chosen other version
  signals.feedback('m', { version: 1, correct: true });
  signals.feedback('m', { version: 1, correct: false });
  signals.feedback('m', {}); // with its input: not judged
  let snapshot = signals.snapshot('m');
  assert.equal(snapshot.version, 1);
  assert.equal(snapshot.since, '2025-01-01T00:00:00.000Z');
  assert.equal(snapshot.predictions, 3);
  assert.deepEqual(snapshot.predictedClasses, { a: 2, b: 1 });
  assert.deepEqual(snapshot.confidenceHistogram, [0, 0, 0, 0, 0, 1, 0, 0, 0, 2]);
  assert.deepEqual(snapshot.feedback, { count: 3, judged: 2, correct: 1, accuracy: 0.5 });

  now += 60_000;
  signals.restart('m', 2);
  signals.feedback('m', { version: 1, correct: true });
  snapshot = signals.snapshot('m');
  assert.equal(snapshot.version, 2);
  assert.equal(snapshot.since, '2025-01-01T00:01:00.000Z');
  assert.equal(snapshot.predictions, 0);
  assert.deepEqual(snapshot.feedback, { count: 1, judged: 0, correct: 0 });

  signals.restart('f', 3);
  for (const value of [10, 20, 30]) signals.observe('f', 3, [], [{ kind: 'value', value }]);
  // Errors 4 and 2 (actuals 100 and 50: 4 % and 4 %); the naive forecast was off by 5, and
  // unknown for the second (no window at hand), so its figure is over one day.
  signals.feedback('f', { version: 3, actual: 100, predicted: 104, naive: 95 });
  signals.feedback('f', { version: 3, actual: 50, predicted: 48 });
  signals.feedback('f', { version: 3, actual: 0, predicted: 1, naive: 0 }); // no percentage of 0
  const forecast = signals.snapshot('f');
  assert.equal(forecast.predictionMean, 20);
  assert.ok(Math.abs((forecast.predictionStd as number) - Math.sqrt(200 / 3)) < 1e-9);
  assert.deepEqual(forecast.feedback, {
    count: 3,
    judged: 3,
    correct: 0,
    judgedValues: 3,
    meanAbsoluteError: 7 / 3,
    rootMeanSquaredError: Math.sqrt(21 / 3),
    meanAbsolutePercentageError: 0.04,
    naiveMeanAbsoluteError: 2.5,
    naiveJudged: 2,
  });
  assert.equal(forecast.predictedClasses, undefined);

  assert.deepEqual(signals.snapshot('never').feedback, { count: 0, judged: 0, correct: 0 });
  assert.deepEqual(
    [0, 0.0999, 0.1, 0.5, 0.99, 1, 1.5, -1].map(confidenceBin),
    [0, 0, 1, 5, 9, 9, 9, 0],
  );
});

test('feedback requests: shapes and truths are checked with messages that say what to send', () => {
  const bad = (fn: () => unknown, pattern: RegExp) =>
    assert.throws(fn, (e: unknown) => isMscrError(e, 'bad_request') && pattern.test(e.message));
  bad(() => parseFeedbackRequest(null), /JSON object/);
  bad(() => parseFeedbackRequest({ label: 'cat' }), /predictionId .* or the input/);
  bad(() => parseFeedbackRequest({ predictionId: 'a/b', label: 'x' }), /predictionId must be/);
  bad(() => parseFeedbackRequest({ predictionId: 'a', lable: 'x' }), /unknown field "lable"/);
  bad(() => parseFeedbackRequest({ input: { image_b64: 1 } }), /base64 string/);
  bad(() => parseFeedbackRequest({ input: { data: [1], shape: [1], x: 1 } }), /unknown field "x"/);
  bad(
    () => parseFeedbackRequest({ predictionId: 'a', label: true }),
    /class name or a class index/,
  );
  bad(() => parseFeedbackRequest({ predictionId: 'a', actual: '3' }), /finite number/);

  const request = parseFeedbackRequest({ predictionId: 'a', label: 'cat' });
  assert.deepEqual(truthOf(request, cifarManifest), { label: 'cat', labelIndex: 3 });
  assert.deepEqual(truthOf({ label: 9 }, cifarManifest), { label: 'truck', labelIndex: 9 });
  bad(() => truthOf({ label: 1.5 }, cifarManifest), /out of range/);
  bad(() => truthOf({ label: 'Cat' }, cifarManifest), /not one of .*airplane, automobile/);
  assert.deepEqual(truthOf({ actual: 812.5 }, stockManifest), { actual: 812.5 });
  bad(() => truthOf({}, stockManifest), /send "actual"/);
});

test('image types kept as posted are told by their first bytes', () => {
  const of = (...bytes: number[]) => imageExtensionOf(Uint8Array.from(bytes));
  assert.equal(of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a), 'png');
  assert.equal(of(0xff, 0xd8, 0xff, 0xe0), 'jpg');
  assert.equal(imageExtensionOf(Buffer.from('GIF89a....')), 'gif');
  assert.equal(imageExtensionOf(Buffer.from('RIFF\0\0\0\0WEBPVP8 ')), 'webp');
  assert.equal(imageExtensionOf(Buffer.from('II*\0')), undefined, 'TIFF is kept decoded');
  assert.equal(of(), undefined);
});

test("the naive forecast of a logged window: its last row's target, in the data's units", () => {
  // GOOG_COLUMNS: Open,High,Low,Volume,Close; Close is the target (min 492.552, max 835.67).
  const rows = Array.from({ length: 7 }, (_, day) => [600, 610, 590, 1e6, 700 + day]);
  const csv = {
    kind: 'csv' as const,
    text: `Open,High,Low,Volume,Close\n${rows.map((r) => r.join(',')).join('\n')}\n`,
  };
  assert.equal(naiveForecastOf(csv, stockManifest), 706);
  // The same window scaled, as a V2 row [7, 5].
  const { min, max } = { min: 492.552, max: 835.67 };
  const data = new Float32Array(35);
  data[34] = (706 - min) / (max - min);
  const naive = naiveForecastOf({ kind: 'tensor', shape: [7, 5], data }, stockManifest);
  assert.ok(Math.abs((naive as number) - 706) < 1e-3, String(naive));
  // Nothing to compare with: no window, a classifier, a row of the wrong width, text that is no number.
  assert.equal(naiveForecastOf(undefined, stockManifest), undefined);
  assert.equal(naiveForecastOf(csv, cifarManifest), undefined);
  assert.equal(
    naiveForecastOf({ kind: 'tensor', shape: [7, 4], data: new Float32Array(28) }, stockManifest),
    undefined,
  );
  assert.equal(
    naiveForecastOf({ kind: 'csv', text: 'Close\nx,y,z,w,oops\n' }, stockManifest),
    undefined,
  );
});

test('logged rows own their data: the input buffer moving to a worker thread leaves them intact', () => {
  for (const rows of [1, 3]) {
    const input = Float32Array.from({ length: rows * 4 }, (_, i) => i + 0.5);
    const logged = tensorRows(input, [rows, 4]);
    // What the worker pool does with an input that spans its whole buffer: transfer it.
    structuredClone(input.buffer, { transfer: [input.buffer] });
    assert.equal(input.length, 0, 'the input buffer is detached');
    assert.equal(logged.length, rows);
    logged.forEach((row, r) => {
      assert.ok(row.kind === 'tensor');
      assert.deepEqual(
        Array.from(row.data),
        [0, 1, 2, 3].map((i) => r * 4 + i + 0.5),
      );
      assert.deepEqual(row.shape, [4]);
    });
  }
});
