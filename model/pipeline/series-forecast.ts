/** The series-forecast task: a CSV of daily rows -> the next day's target (the MSC/R stock case). */
import * as tf from '@tensorflow/tfjs';
import { MscrError } from '../../connectors/errors.ts';
import type { ModelManifest, SeriesPreprocessing } from '../../connectors/ms/manifest.ts';
import { unscaleTarget } from '../../connectors/ms/preprocessing.ts';
import { loadNumericCsv, splitChronological, type NumericTable } from '../data/index.ts';
import { meanAndStd, regressionReport } from '../evaluation/index.ts';
import { seriesWindows } from '../features/index.ts';
import { usableWindows } from './feedback-windows.ts';
import type { DataOptions, ForecastReport, Task } from './task.ts';

async function loadSeries(sources: string[], limit?: number): Promise<NumericTable> {
  if (sources.length !== 1) {
    throw new MscrError(
      'config',
      `a series model trains on one CSV file, got ${sources.length}: ${sources.join(', ')}`,
    );
  }
  const table = await loadNumericCsv(sources[0] as string);
  // With a limit keep the most recent rows: the ones a forecaster is judged on.
  return limit && limit < table.rows.length ? { ...table, rows: table.rows.slice(-limit) } : table;
}

/** The base training windows with the fed-back ones after them (inputs disposed). */
function withFedBack(
  base: { x: tf.Tensor; y: tf.Tensor },
  fed: { x: tf.Tensor; y: tf.Tensor }[],
): { x: tf.Tensor; y: tf.Tensor } {
  if (fed.length === 0) return base;
  const x = tf.concat([base.x, ...fed.map((f) => f.x)]);
  const y = tf.concat([base.y, ...fed.map((f) => f.y)]);
  tf.dispose([base.x, base.y, ...fed.flatMap((f) => [f.x, f.y])]);
  return { x, y };
}

interface SeriesHeldOut {
  readonly kind: 'series';
  readonly table: NumericTable;
}

export const seriesForecast: Task = {
  task: 'series-forecast',
  loss: 'meanSquaredError',
  trainingMetrics: ['mae'],

  async prepare(options: DataOptions) {
    const table = await loadSeries(options.sources, options.limit);
    const strategy = seriesWindows({
      ...(options.window ? { window: options.window } : {}),
      ...(options.target ? { target: options.target } : {}),
    });
    const window = options.window ?? 7;
    // The test part starts `window` rows early, as context, so every held-out day is a target.
    const { train, test } = splitChronological(table, options.testFraction, { overlap: window });
    const fed = usableWindows(options.extraWindows ?? [], table, window, options.target ?? 'Close');
    const preprocessing = strategy.fit(
      fed.rows.length > 0 ? { ...train, rows: [...train.rows, ...fed.rows] } : train,
    );
    const trainFeatures = withFedBack(
      strategy.transform(train, preprocessing),
      fed.tables.map((extra) => strategy.transform(extra, preprocessing)),
    );
    const testFeatures = strategy.transform(test, preprocessing);
    const features = preprocessing.columns.length;
    const fedBack =
      options.extraWindows && options.extraWindows.length > 0
        ? `; feedback: ${fed.tables.length} days added to training (${fed.duplicates} repeated, ${fed.inBase} already in the data, ${fed.unusable} unusable)`
        : '';
    return {
      xTrain: trainFeatures.x,
      yTrain: trainFeatures.y,
      xTest: testFeatures.x,
      yTest: testFeatures.y,
      architectureInput: { task: 'series-forecast', window: preprocessing.window, features },
      preprocessing,
      inputs: [{ name: 'window', dtype: 'float32', shape: [-1, preprocessing.window, features] }],
      outputs: [{ name: 'forecast', dtype: 'float32', shape: [-1, 1] }],
      fingerprint: table.fingerprint,
      sources:
        fed.tables.length > 0
          ? [...table.sources, `${fed.tables.length} fed-back days`]
          : table.sources,
      summary: `${table.rows.length} rows x ${features} columns, window ${preprocessing.window} -> next ${preprocessing.target}, ${trainFeatures.x.shape[0]} train / ${testFeatures.x.shape[0]} held-out windows${fedBack}`,
      heldOut: { kind: 'series', table: test } satisfies SeriesHeldOut,
    };
  },

  expressHeldOut(heldOut, manifest) {
    const { table } = heldOut as SeriesHeldOut;
    const { x, y } = seriesWindows().transform(
      table,
      manifest.preprocessing as SeriesPreprocessing,
    );
    return { x, y, summary: `${x.shape[0]} held-out windows` };
  },

  async prepareEvaluation(manifest: ModelManifest, options) {
    const spec = manifest.preprocessing as SeriesPreprocessing;
    const table = await loadSeries(options.sources, options.limit);
    const { x, y } = seriesWindows().transform(table, spec);
    return { x, y, summary: `${x.shape[0]} windows from ${table.sources.join(', ')}` };
  },

  async score(model, x, y, manifest) {
    const spec = manifest.preprocessing as SeriesPreprocessing;
    const targetIndex = spec.columns.indexOf(spec.target);
    const predicted = tf.tidy(() => model.predict(x, { batchSize: 256 }) as tf.Tensor);
    // "Tomorrow = today": the target column of each window's last row.
    const lastDay = tf.tidy(() =>
      x.slice([0, spec.window - 1, targetIndex], [-1, 1, 1]).reshape([-1]),
    );
    const [scaledPredicted, scaledTruth, scaledToday] = await Promise.all([
      predicted.data(),
      y.data(),
      lastDay.data(),
    ]);
    tf.dispose([predicted, lastDay]);
    const unscale = (values: ArrayLike<number>) =>
      Array.from(values, (v) => unscaleTarget(v, spec));
    const truth = unscale(scaledTruth);
    const forecast = unscale(scaledPredicted);
    const report = regressionReport(truth, forecast);
    const naive = regressionReport(truth, unscale(scaledToday));
    const { mean, std } = meanAndStd(forecast);
    const forecastReport: ForecastReport = {
      kind: 'forecast',
      target: spec.target,
      rmse: report.rmse,
      mae: report.mae,
      mape: report.mape,
      naive: { rmse: naive.rmse, mae: naive.mae, mape: naive.mape },
      samples: report.samples,
    };
    return {
      metrics: { rmse: report.rmse, mae: report.mae, mape: report.mape, naiveRmse: naive.rmse },
      reference: { predictionMean: mean, predictionStd: std },
      report: forecastReport,
    };
  },
};
