import * as tf from '@tensorflow/tfjs';
import { GRID_BOX_CHANNELS } from '../../connectors/ms/detection/index.ts';
import { requireInput, type Architecture } from './types.ts';

/** The input's side is divided by this: 64x64 pixels -> an 8x8 grid of 8-pixel cells. */
export const GRID_STRIDE = 8;
/** Prior probability of an object in a cell, for the objectness bias (RetinaNet's trick). */
const OBJECT_PRIOR = 0.05;
/** Starting guess for a box's width and height as a fraction of the input. */
const SIZE_PRIOR = 0.3;

const logit = (p: number) => Math.log(p / (1 - p));

/** 3x3 conv (no bias) -> batch norm -> leaky ReLU, the unit of YOLO's Darknet backbones. */
function convBnLeaky(
  x: tf.SymbolicTensor,
  filters: number,
  name: string,
  strides: 1 | 2 = 1,
): tf.SymbolicTensor {
  let y = tf.layers
    .conv2d({
      filters,
      kernelSize: 3,
      strides,
      padding: 'same',
      useBias: false,
      kernelInitializer: 'heNormal',
      name: `${name}_conv`,
    })
    .apply(x) as tf.SymbolicTensor;
  y = tf.layers.batchNormalization({ name: `${name}_bn` }).apply(y) as tf.SymbolicTensor;
  return tf.layers.leakyReLU({ alpha: 0.1, name: `${name}_leaky` }).apply(y) as tf.SymbolicTensor;
}

/**
 * mscr's own single-shot detector: a small Darknet-style backbone (three stride-2 3x3 conv
 * stages to stride 8 with a stride-1 conv between the second and third, then one more 3x3
 * conv on the grid: a ~40-pixel receptive field, above the largest generated object)
 * and a 1x1 conv head with 5 + classes linear channels per cell, read as the MS contract's
 * grid layout (connectors/ms/detection/grid.ts). Each cell predicts the one object whose
 * centre falls in it, as YOLOv1 and centre-point detectors do: no anchors to tune, one box
 * per cell, enough for scenes of a few well-separated objects. ~71k parameters, small
 * enough to train on a 2-core CPU in a minute or two on 64x64 images.
 */
export const gridDetector: Architecture = {
  name: 'grid-detector',
  description: `Single-shot object detector: conv backbone to a 1/${GRID_STRIDE} grid, one box + class per cell`,
  task: 'object-detection',
  defaults: { epochs: 10, batchSize: 16, learningRate: 0.01 },
  build(input) {
    const { height, width, channels, classes } = requireInput(
      input,
      'object-detection',
      'grid-detector',
    );
    const inputs = tf.input({ shape: [height, width, channels], name: 'image' });
    // Strided convolutions rather than conv + pool: a quarter of the work at each full size.
    let x = convBnLeaky(inputs, 16, 'down1', 2);
    x = convBnLeaky(x, 32, 'down2', 2);
    x = convBnLeaky(x, 32, 'mid');
    x = convBnLeaky(x, 64, 'down3', 2);
    x = convBnLeaky(x, 64, 'grid');
    const head = tf.layers.conv2d({
      filters: GRID_BOX_CHANNELS + classes,
      kernelSize: 1,
      name: 'detections',
    });
    const outputs = head.apply(x) as tf.SymbolicTensor;
    const model = tf.model({ inputs, outputs, name: 'grid_detector' });
    // Start with few objects everywhere and mid-sized boxes, so the first steps are not
    // spent pushing 64 cells' objectness down.
    // getWeights gives the variables themselves: nothing of it is disposed here.
    const [kernel] = head.getWeights() as [tf.Tensor, tf.Tensor];
    const start = new Float32Array(GRID_BOX_CHANNELS + classes);
    start[0] = logit(OBJECT_PRIOR);
    start[3] = logit(SIZE_PRIOR);
    start[4] = logit(SIZE_PRIOR);
    const bias = tf.tensor1d(start);
    head.setWeights([kernel, bias]);
    bias.dispose();
    return model;
  },
};
