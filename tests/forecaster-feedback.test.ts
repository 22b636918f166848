/**
 * Forecasters judged on their feedback as forecasters (issue 18): a stock LSTM trained on
 * the real GOOG series serves; a client forecasts 30 real days and feeds back the real next
 * close of each. The Service's signals give the model's error (MAE, RMSE, MAPE) and the naive
 * forecast's on the same days; `mscr retrain watch --once --min-accuracy` does not fire on a
 * forecaster (it used to read its accuracy as 0), and `--max-mae-vs-naive` does fire, runs the
 * retraining job and records the run. Every figure is checked against the same arithmetic
 * done here on the CSV.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ModelSignals, RetrainRun } from '../connectors/sr/index.ts';
import { openStore } from '../connectors/store/index.ts';
import { trainModel } from '../model/pipeline/index.ts';
import type { Service } from '../service/server.ts';
import { startService, waitUntil } from '../service/test-support.ts';
import { runMscr } from './run-mscr.ts';
import { sharedData } from './shared-data.ts';

const DAYS = 30;
const CLOSE = 4; // Open,High,Low,Volume,Close

let dir: string;
let storeUri: string;
let service: Service;
let url: string;
/** The series as the file has it: newest day first. */
let rows: string[];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mscr-forecaster-feedback-'));
  storeUri = `file://${join(dir, 'models')}`;
  await trainModel({
    model: 'stock-lstm',
    data: [sharedData('stock/goog_daily.csv')],
    store: openStore(storeUri),
    epochs: 1,
    backend: 'wasm',
    onnx: false,
  });
  ({ service, url } = await startService(join(dir, 'models')));
  await waitUntil(async () => (await fetch(`${url}/v2/health/ready`)).status === 200, 'ready');
  rows = (await readFile(sharedData('stock/goog_daily.csv'), 'utf8'))
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'));
});
after(async () => {
  await service?.stop();
  await rm(dir, { recursive: true, force: true });
});

const close = (row: string) => Number(row.split(',')[CLOSE]);

describe('a forecaster judged on its fed-back actuals', () => {
  const errors: number[] = [];
  const naiveErrors: number[] = [];

  test('signals give its MAE, RMSE, MAPE and the naive forecast’s MAE on the same days', async () => {
    // Day d's window is rows d+1 .. d+7 (newest first); its actual is row d's close.
    for (let day = 0; day < DAYS; day++) {
      const window = rows.slice(day + 1, day + 8).join('\n');
      const response = await fetch(`${url}/mscr/models/stock-lstm/forecast?order=newest-first`, {
        method: 'POST',
        headers: { 'content-type': 'text/csv' },
        body: window,
      });
      assert.equal(response.status, 200, await response.clone().text());
      const answer = (await response.json()) as { forecast: number[]; predictionIds: string[] };
      const actual = close(rows[day] as string);
      const sent = await fetch(`${url}/mscr/models/stock-lstm/feedback`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ predictionId: answer.predictionIds[0], actual }),
      });
      assert.equal(sent.status, 201, await sent.clone().text());
      errors.push(Math.abs(actual - (answer.forecast[0] as number)));
      naiveErrors.push(Math.abs(actual - close(rows[day + 1] as string)));
    }
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    const signals = (await (
      await fetch(`${url}/mscr/models/stock-lstm/signals`)
    ).json()) as ModelSignals;
    const { feedback } = signals;
    assert.equal(feedback.judged, DAYS);
    assert.equal(feedback.judgedValues, DAYS);
    assert.equal(feedback.accuracy, undefined, 'no accuracy for a forecaster');
    // The service unscales in float32: agreement to a cent.
    assert.ok(Math.abs((feedback.meanAbsoluteError as number) - mean(errors)) < 0.01);
    const rmse = Math.sqrt(mean(errors.map((e) => e * e)));
    assert.ok(Math.abs((feedback.rootMeanSquaredError as number) - rmse) < 0.01);
    const mape = mean(errors.map((e, day) => e / close(rows[day] as string)));
    assert.ok(Math.abs((feedback.meanAbsolutePercentageError as number) - mape) < 1e-5);
    assert.equal(feedback.naiveJudged, DAYS);
    assert.ok(Math.abs((feedback.naiveMeanAbsoluteError as number) - mean(naiveErrors)) < 1e-3);
  });

  test('watch --min-accuracy does not fire on a forecaster; --max-mae-vs-naive does, and the job runs', async () => {
    const watch = (threshold: string[]) =>
      runMscr([
        'retrain',
        'watch',
        '--once',
        '--url',
        url,
        '--model',
        'stock-lstm',
        '--store',
        storeUri,
        '--data',
        sharedData('stock/goog_daily.csv'),
        '--epochs',
        '1',
        '--min-feedback',
        '20',
        ...threshold,
      ]);
    const accuracy = await watch(['--min-accuracy', '0.6']);
    assert.equal(accuracy.code, 0, accuracy.stderr);
    assert.match(accuracy.stderr, /30 judged feedback, MAE \d/);
    assert.doesNotMatch(accuracy.stderr, /retrain:/);

    // A ratio the model is certainly above (half its measured one) makes it fire.
    const ratio = errors.reduce((a, b) => a + b, 0) / naiveErrors.reduce((a, b) => a + b, 0);
    const fired = await watch(['--max-mae-vs-naive', (ratio / 2).toFixed(4)]);
    assert.equal(fired.code, 0, fired.stderr);
    assert.match(
      fired.stderr,
      /retrain: mean absolute error on fed-back values \d+\.\d{3}x the naive forecast's/,
    );
    assert.match(fired.stderr, /run \S+: (published|rejected)/);
    const history = await runMscr([
      'retrain',
      'history',
      '--model',
      'stock-lstm',
      '--store',
      storeUri,
      '--json',
    ]);
    const [run] = JSON.parse(history.stdout) as RetrainRun[];
    assert.equal(run?.trigger.kind, 'threshold');
    assert.match(JSON.stringify(run?.trigger), /naive forecast/);
  });
});
