/**
 * The training loop: shuffled mini-batches through `trainOnBatch`, optional augmentation
 * per batch, progress events per batch and per epoch. Written out (rather than
 * `model.fit`) so augmentation and progress are ours and the event loop is not starved.
 */
import * as tf from '@tensorflow/tfjs';
import { shuffleInPlace, type Random } from '../data/random.ts';
import type { TrainingRun } from './run.ts';

export type BatchAugmentation = (batch: tf.Tensor4D) => tf.Tensor4D;

export interface FitOptions {
  x: tf.Tensor;
  y: tf.Tensor;
  epochs: number;
  batchSize: number;
  /** Applied to each image batch before the step (training only). */
  augment?: BatchAugmentation;
  /** Seeded generator for the per-epoch shuffle, so runs repeat. */
  random: Random;
  run: TrainingRun;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function fitModel(model: tf.LayersModel, options: FitOptions): Promise<void> {
  const { x, y, epochs, batchSize, run } = options;
  const n = x.shape[0] as number;
  const batches = Math.ceil(n / batchSize);
  const metricNames = model.metricsNames.slice(1);
  for (let epoch = 1; epoch <= epochs; epoch++) {
    const started = performance.now();
    const order = Int32Array.from(
      shuffleInPlace(
        Array.from({ length: n }, (_, i) => i),
        options.random,
      ),
    );
    let lossSum = 0;
    const metricSums = new Array<number>(metricNames.length).fill(0);
    for (let b = 0; b < batches; b++) {
      const indices = order.subarray(b * batchSize, Math.min(n, (b + 1) * batchSize));
      const [xb, yb] = tf.tidy(() => {
        const indexTensor = tf.tensor1d(indices, 'int32');
        let xs = tf.gather(x, indexTensor);
        if (options.augment) xs = options.augment(xs as tf.Tensor4D);
        return [xs, tf.gather(y, indexTensor)];
      });
      const result = await model.trainOnBatch(xb as tf.Tensor, yb as tf.Tensor);
      tf.dispose([xb, yb]);
      const values = Array.isArray(result) ? result : [result];
      const loss = values[0] ?? NaN;
      lossSum += loss * indices.length;
      metricNames.forEach(
        (_, i) =>
          (metricSums[i] = (metricSums[i] as number) + (values[i + 1] ?? 0) * indices.length),
      );
      run.emit({ type: 'batch', epoch, epochs, batch: b + 1, batches, loss });
      await yieldToEventLoop();
    }
    const elapsedMs = performance.now() - started;
    const metrics = Object.fromEntries(
      metricNames.map((name, i) => [name, (metricSums[i] as number) / n]),
    );
    run.emit({
      type: 'epoch',
      epoch,
      epochs,
      loss: lossSum / n,
      metrics,
      samplesPerSecond: n / (elapsedMs / 1000),
      elapsedMs,
    });
  }
}
