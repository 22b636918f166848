import * as tf from '@tensorflow/tfjs';
import { requireInput, type Architecture } from './types.ts';

/**
 * The stock model of the MSC/R paper: an LSTM reads a window of days (Open, High, Low,
 * Volume, Close, min-max scaled) and a dense layer predicts the next day's scaled Close.
 */
export const stockLstm: Architecture = {
  name: 'stock-lstm',
  description: 'LSTM forecaster: a window of days -> the next value of the target column',
  task: 'series-forecast',
  defaults: { epochs: 100, batchSize: 32, learningRate: 0.005 },
  build(input) {
    const { window, features } = requireInput(input, 'series-forecast', 'stock-lstm');
    const model = tf.sequential({ name: 'stock_lstm' });
    model.add(tf.layers.lstm({ inputShape: [window, features], units: 32 }));
    model.add(tf.layers.dense({ units: 1, name: 'forecast' }));
    return model;
  },
};

/**
 * Linear regression on the same window: one dense unit over the flattened window. The
 * baseline every forecaster must beat, and quick to train anywhere.
 */
export const linearRegression: Architecture = {
  name: 'linear',
  description: 'Linear regression over the flattened window (a baseline forecaster)',
  task: 'series-forecast',
  defaults: { epochs: 60, batchSize: 32, learningRate: 0.05 },
  build(input) {
    const { window, features } = requireInput(input, 'series-forecast', 'linear');
    const model = tf.sequential({ name: 'linear_regression' });
    model.add(tf.layers.flatten({ inputShape: [window, features] }));
    model.add(tf.layers.dense({ units: 1, name: 'forecast' }));
    return model;
  },
};
