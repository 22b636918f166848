import * as tf from '@tensorflow/tfjs';
import { requireInput, type Architecture } from './types.ts';

/**
 * The plain convnet of the CIFAR-10 microservices case: three 3x3 conv stages with max
 * pooling, then a small dense head. ~120k parameters: big enough to beat chance by far on
 * 3,000 images in a few epochs, small enough to train on a 2-core machine's CPU.
 */
export const cifar10Cnn: Architecture = {
  name: 'cifar10-cnn',
  description: 'Convolutional classifier (3 conv stages + dense head) for 32x32 RGB images',
  task: 'image-classification',
  defaults: { epochs: 5, batchSize: 32, learningRate: 0.001 },
  build(input) {
    const { height, width, channels, classes } = requireInput(
      input,
      'image-classification',
      'cifar10-cnn',
    );
    const model = tf.sequential({ name: 'cifar10_cnn' });
    model.add(
      tf.layers.conv2d({
        inputShape: [height, width, channels],
        filters: 32,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
      }),
    );
    model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
    model.add(
      tf.layers.conv2d({ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu' }),
    );
    model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
    model.add(
      tf.layers.conv2d({ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu' }),
    );
    model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
    model.add(tf.layers.flatten());
    model.add(tf.layers.dropout({ rate: 0.25 }));
    model.add(tf.layers.dense({ units: 64, activation: 'relu' }));
    model.add(tf.layers.dense({ units: classes, activation: 'softmax', name: 'probabilities' }));
    return model;
  },
};
