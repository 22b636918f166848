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
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
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

describe('a forecaster whose regime changed learns from its feedback', () => {
  let driftDir: string;
  let driftService: Service | undefined;
  after(async () => {
    await driftService?.stop();
    if (driftDir) await rm(driftDir, { recursive: true, force: true });
  });

  test('trained on an older regime, fed back 60 later days: the observer fires, retraining with them publishes a version with a lower error on those days', async () => {
    driftDir = await mkdtemp(join(tmpdir(), 'mscr-forecaster-drift-'));
    const models = join(driftDir, 'models');
    const drift = `file://${models}`;
    // Version 1 knows only the older regime: the file's rows from day 350 back (newest first; closes up to 673, where the 60 newest are 770-836).
    const header = (await readFile(sharedData('stock/goog_daily.csv'), 'utf8'))
      .split('\n')
      .filter((line) => line.startsWith('#'))
      .at(-1) as string;
    const base = join(driftDir, 'older.csv');
    await writeFile(base, `${header}\n${rows.slice(350).join('\n')}\n`);
    const trained = await runMscr([
      'train',
      '--model',
      'stock-lstm',
      '--data',
      base,
      '--store',
      drift,
      '--epochs',
      '5',
      '--no-onnx',
    ]);
    assert.equal(trained.code, 0, trained.stderr);
    let driftUrl: string;
    ({ service: driftService, url: driftUrl } = await startService(models, {
      pollInterval: '0.1',
    }));
    await waitUntil(
      async () => (await fetch(`${driftUrl}/v2/health/ready`)).status === 200,
      'ready',
    );

    // The 60 newest days: forecast each from its window, feed back what came true.
    const FED = 60;
    const forecastAll = async (feedback: boolean) => {
      const errors: number[] = [];
      for (let day = 0; day < FED; day++) {
        const response = await fetch(
          `${driftUrl}/mscr/models/stock-lstm/forecast?order=newest-first`,
          { method: 'POST', body: rows.slice(day + 1, day + 8).join('\n') },
        );
        assert.equal(response.status, 200, await response.clone().text());
        const answer = (await response.json()) as { forecast: number[]; predictionIds: string[] };
        const actual = close(rows[day] as string);
        errors.push(Math.abs(actual - (answer.forecast[0] as number)));
        if (feedback) {
          const sent = await fetch(`${driftUrl}/mscr/models/stock-lstm/feedback`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ predictionId: answer.predictionIds[0], actual }),
          });
          assert.equal(sent.status, 201, await sent.clone().text());
        }
      }
      return errors.reduce((a, b) => a + b, 0) / errors.length;
    };
    const before = await forecastAll(true);

    // The observer sees the error against the naive forecast and starts the job.
    const retrained = await runMscr([
      'retrain',
      'watch',
      '--once',
      '--url',
      driftUrl,
      '--model',
      'stock-lstm',
      '--store',
      drift,
      '--data',
      base,
      '--epochs',
      '5',
      '--max-mae-vs-naive',
      '2',
      '--min-feedback',
      '50',
      // The gate scores both on the older regime's held-out tail, where the candidate (its
      // scaler now spans the new prices too) measured 8.3 dollars RMSE better to 3.5 worse
      // over 100 runs: an operator who knows the regime moved accepts a few dollars there.
      '--tolerance',
      '10',
    ]);
    assert.equal(retrained.code, 0, retrained.stderr);
    assert.match(retrained.stderr, /retrain: mean absolute error on fed-back values/);
    assert.match(retrained.stderr, /feedback: 60 records, 60 fed-back days/);
    assert.match(retrained.stderr, /run \S+: published/);
    assert.match(
      retrained.stderr,
      /60 days added to training \(0 repeated, 0 already in the data, 0 unusable\)/,
    );
    await waitUntil(async () => {
      const meta = (await (await fetch(`${driftUrl}/v2/models/stock-lstm`)).json()) as {
        versions?: string[];
      };
      return meta.versions?.includes('2') ?? false;
    }, 'version 2 serving');
    const afterRetrain = await forecastAll(false);
    console.log(
      `# drift: MAE on the 60 fed-back days ${before.toFixed(2)} -> ${afterRetrain.toFixed(2)}`,
    );
    // Measured 105.5 -> 7.9 dollars: the fed-back regime is above anything version 1 saw.
    assert.ok(afterRetrain < before / 2, `${afterRetrain} < ${before} / 2`);
  });
});
