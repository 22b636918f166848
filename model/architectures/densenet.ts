import * as tf from '@tensorflow/tfjs';
import { requireInput, type Architecture } from './types.ts';

const GROWTH_RATE = 12;
const LAYERS_PER_BLOCK = 3;
const BLOCKS = 3;

/** BN -> ReLU -> conv, the composite function of every DenseNet layer. */
function bnReluConv(x: tf.SymbolicTensor, filters: number, kernelSize: number): tf.SymbolicTensor {
  let y = tf.layers.batchNormalization().apply(x) as tf.SymbolicTensor;
  y = tf.layers.activation({ activation: 'relu' }).apply(y) as tf.SymbolicTensor;
  return tf.layers
    .conv2d({ filters, kernelSize, padding: 'same', useBias: false, kernelInitializer: 'heNormal' })
    .apply(y) as tf.SymbolicTensor;
}

/**
 * A small DenseNet (Huang et al., 2017) for 32x32 images, the second model family of the
 * CIFAR-10 microservices case: 3 dense blocks of 3 layers, growth rate 12, each layer
 * seeing the concatenation of all earlier feature maps; transitions halve the resolution.
 */
export const denseNet: Architecture = {
  name: 'densenet',
  description: `Small DenseNet (${BLOCKS} blocks x ${LAYERS_PER_BLOCK} layers, growth ${GROWTH_RATE}) for small RGB images`,
  task: 'image-classification',
  defaults: { epochs: 5, batchSize: 32, learningRate: 0.002 },
  build(input) {
    const { height, width, channels, classes } = requireInput(
      input,
      'image-classification',
      'densenet',
    );
    const inputs = tf.input({ shape: [height, width, channels], name: 'image' });
    let x = tf.layers
      .conv2d({ filters: 2 * GROWTH_RATE, kernelSize: 3, padding: 'same', useBias: false })
      .apply(inputs) as tf.SymbolicTensor;
    let channelsNow = 2 * GROWTH_RATE;
    for (let block = 0; block < BLOCKS; block++) {
      for (let layer = 0; layer < LAYERS_PER_BLOCK; layer++) {
        const newFeatures = bnReluConv(x, GROWTH_RATE, 3);
        x = tf.layers.concatenate().apply([x, newFeatures]) as tf.SymbolicTensor;
        channelsNow += GROWTH_RATE;
      }
      if (block < BLOCKS - 1) {
        // Transition: 1x1 conv (compression 0.5) and 2x2 average pooling.
        channelsNow = Math.floor(channelsNow / 2);
        x = bnReluConv(x, channelsNow, 1);
        x = tf.layers.averagePooling2d({ poolSize: 2 }).apply(x) as tf.SymbolicTensor;
      }
    }
    x = tf.layers.batchNormalization().apply(x) as tf.SymbolicTensor;
    x = tf.layers.activation({ activation: 'relu' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
    const outputs = tf.layers
      .dense({ units: classes, activation: 'softmax', name: 'probabilities' })
      .apply(x) as tf.SymbolicTensor;
    return tf.model({ inputs, outputs, name: 'densenet' });
  },
};
