/**
 * Times Conv2DBackpropFilter on wasm (the composite kernel) against the cpu backend.
 *   node --import tsx runtime/backend/conv2d-backprop-filter.bench.ts          # wasm; cpu on small layers
 *   node --import tsx runtime/backend/conv2d-backprop-filter.bench.ts --cpu    # cpu on every layer (minutes)
 * Prints the minimum and median ms per call; the minimum is the better estimate on a busy machine.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from './index.ts';
import { CONV2D_BACKPROP_FILTER } from './conv2d-backprop-filter.ts';

interface Layer {
  name: string;
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: number;
  pad: 'same' | 'valid';
}

const layers: Layer[] = [
  { name: 'realistic', x: [32, 32, 32, 32], filter: [3, 3, 32, 64], strides: 1, pad: 'same' },
  { name: 'mnist first', x: [32, 28, 28, 1], filter: [3, 3, 1, 32], strides: 1, pad: 'same' },
  { name: 'cifar first', x: [32, 32, 32, 3], filter: [3, 3, 3, 32], strides: 1, pad: 'same' },
  { name: 'stride 2', x: [32, 16, 16, 64], filter: [3, 3, 64, 128], strides: 2, pad: 'same' },
  { name: '1x1', x: [32, 8, 8, 128], filter: [1, 1, 128, 256], strides: 1, pad: 'valid' },
  { name: '5x5', x: [4, 64, 64, 16], filter: [5, 5, 16, 32], strides: 1, pad: 'same' },
];

function time(layer: Layer, repeats: number): { min: number; median: number } {
  const info = tf.backend_util.computeConv2DInfo(
    layer.x,
    layer.filter,
    layer.strides,
    1,
    layer.pad,
  );
  const x = tf.randomNormal(layer.x);
  const dy = tf.randomNormal(info.outShape);
  const attrs = {
    strides: layer.strides,
    pad: layer.pad,
    dataFormat: 'NHWC',
    filterShape: layer.filter,
  };
  const run = (): void => {
    const dw = tf.engine().runKernel(CONV2D_BACKPROP_FILTER, { x, dy }, attrs) as tf.Tensor;
    dw.dataSync();
    dw.dispose();
  };
  run(); // warm-up
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    run();
    times.push(performance.now() - start);
  }
  tf.dispose([x, dy]);
  times.sort((a, b) => a - b);
  return { min: times[0] ?? NaN, median: times[Math.floor(times.length / 2)] ?? NaN };
}

const allCpu = process.argv.includes('--cpu');
const wasm = await initBackend('wasm');
console.log(`wasm: threads ${wasm.threads ?? '?'}, simd ${String(wasm.simd)}`);
for (const layer of layers) {
  await initBackend('wasm');
  const w = time(layer, 9);
  const macs =
    (layer.filter.reduce((a, b) => a * b, 1) * (layer.x[0] * layer.x[1] * layer.x[2])) /
    layer.strides ** 2;
  let line = `${layer.name.padEnd(12)} x [${layer.x.join(',')}] w [${layer.filter.join(',')}] s${layer.strides} ${layer.pad}: wasm min ${w.min.toFixed(1)} ms, median ${w.median.toFixed(1)} ms (${((2 * macs) / w.min / 1e6).toFixed(1)} GFLOP/s)`;
  if (allCpu || macs < 5e7) {
    await initBackend('cpu');
    const c = time(layer, 1);
    line += `; cpu ${c.min.toFixed(0)} ms (${(c.min / w.min).toFixed(0)}x)`;
  }
  console.log(line);
}
