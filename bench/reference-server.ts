/**
 * The baseline of `npm run bench` (bench/serve-bench.ts): the plain way to serve a TF.js
 * model from Node. Express with `express.json()`, one route `POST /v2/models/:model/infer`,
 * `model.predict` on the main thread per request (no worker threads, no batching), on the
 * same WebAssembly backend and the same model files as the service.
 *
 *   node --import tsx bench/reference-server.ts --store DIR --model NAME [--port 0] [--host 127.0.0.1]
 *
 * Prints `listening http://HOST:PORT` on stdout once the model is loaded and warmed up.
 * Ends on SIGTERM or SIGINT.
 */
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import express, { type NextFunction, type Request, type Response } from 'express';
import * as tf from '@tensorflow/tfjs';
import { modelFromFiles } from '../connectors/ms/artifacts.ts';
import { openStore } from '../connectors/store/index.ts';
import { initBackend } from '../runtime/backend/index.ts';

const { values } = parseArgs({
  options: {
    store: { type: 'string' },
    model: { type: 'string', default: 'cifar10-cnn' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    limit: { type: 'string', default: '8mb' },
  },
});
if (values.store === undefined) {
  console.error('reference-server: --store DIR is required');
  process.exit(2);
}

const backend = await initBackend('wasm');
const store = openStore(values.store);
const version = await store.latestVersion(values.model);
if (version === undefined) {
  console.error(`reference-server: model ${values.model} has no version in ${values.store}`);
  process.exit(2);
}
const { manifest, files } = await store.readVersion(values.model, version);
const model = await modelFromFiles(files);
const outputName = manifest.outputs[0]?.name ?? 'output';
const inputShape = manifest.inputs[0]?.shape ?? [];

/** One V2 input as the route reads it: just enough checking to answer 400 instead of 500. */
interface V2Input {
  data: number[] | number[][];
  shape: number[];
}

function firstInput(body: unknown): V2Input {
  if (typeof body !== 'object' || body === null || !('inputs' in body)) {
    throw new RangeError('body must be {"inputs": [{"shape", "data"}]}');
  }
  const inputs: unknown = body.inputs;
  const input: unknown = Array.isArray(inputs) ? inputs[0] : undefined;
  if (
    typeof input !== 'object' ||
    input === null ||
    !('data' in input) ||
    !('shape' in input) ||
    !Array.isArray(input.data) ||
    !Array.isArray(input.shape)
  ) {
    throw new RangeError('inputs[0] must have "shape" and "data" lists');
  }
  return { data: input.data as number[], shape: input.shape as number[] };
}

function predict(input: V2Input): { data: Float32Array; shape: number[] } {
  return tf.tidy(() => {
    const x = tf.tensor(input.data, input.shape, 'float32');
    const rows = input.shape[0] ?? 1;
    const y = model.predict(x, { batchSize: Math.max(1, rows) }) as tf.Tensor;
    return { data: y.dataSync() as Float32Array, shape: y.shape.slice() };
  });
}

// Warm-up: the first predict allocates and prepares the kernels.
predict({
  data: new Array<number>(inputShape.slice(1).reduce((a, b) => a * b, 1)).fill(0),
  shape: [1, ...inputShape.slice(1)],
});

const app = express();
app.disable('x-powered-by');
app.set('etag', false);
app.use(express.json({ limit: values.limit }));
app.get('/v2/health/ready', (_req, res) => {
  res.json({ ready: true });
});
app.post('/v2/models/:model/infer', (req: Request, res: Response) => {
  if (req.params.model !== values.model) {
    res.status(404).json({ error: `unknown model ${String(req.params.model)}` });
    return;
  }
  let input: V2Input;
  try {
    input = firstInput(req.body);
  } catch (error) {
    res.status(400).json({ error: (error as Error).message });
    return;
  }
  const output = predict(input);
  res.json({
    model_name: values.model,
    model_version: String(version),
    outputs: [
      {
        name: outputName,
        shape: output.shape,
        datatype: 'FP32',
        data: Array.from(output.data),
      },
    ],
  });
});
app.use((error: Error, _req: Request, res: Response, _next: NextFunction) => {
  res.status(500).json({ error: error.message });
});

const server = app.listen(Number(values.port), values.host, () => {
  const { port } = server.address() as AddressInfo;
  console.log(`listening http://${values.host}:${port} (backend ${backend.name})`);
});
const stop = (): void => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
