/**
 * Feature strategies: `fit` learns a manifest `PreprocessingSpec` from the training data
 * only; `transform` turns any data (train, test, later batches) into model tensors with that
 * spec, through the MS connector's functions (the same code serving runs).
 */
import type * as tf from '@tensorflow/tfjs';
import type { PreprocessingSpec } from '../../connectors/ms/manifest.ts';

export interface Features<X extends tf.Tensor = tf.Tensor, Y extends tf.Tensor = tf.Tensor> {
  x: X;
  y: Y;
}

export interface FeatureStrategy<TData, TSpec extends PreprocessingSpec, TOut> {
  readonly name: string;
  /** Learns the spec from training data only. */
  fit(train: TData): TSpec;
  /** Applies a fitted spec. The caller owns (and disposes) the returned tensors. */
  transform(data: TData, spec: TSpec): TOut;
}
