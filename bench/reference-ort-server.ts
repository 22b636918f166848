/**
 * A baseline of `npm run bench:compare` (bench/compare-bench.ts): the plain way to serve an
 * ONNX model from Node. Express with `express.json()`, one route
 * `POST /v2/models/:model/infer`, `session.run` of onnxruntime-node per request (ONNX
 * Runtime's default options: its own intra-op thread pool, one thread per core), no worker
 * threads, no batching. Same model file as mscr's ONNX engine (the version's `model.onnx`).
 *
 *   node --import tsx bench/reference-ort-server.ts --store DIR --model NAME [--port 0] [--host 127.0.0.1]
 *
 * Prints `listening http://HOST:PORT` on stdout once the session is created and warmed up.
 * Ends on SIGTERM or SIGINT.
 */
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import express, { type NextFunction, type Request, type Response } from 'express';
import * as ort from 'onnxruntime-node';
import { openStore } from '../connectors/store/index.ts';

const { values } = parseArgs({
  options: {
    store: { type: 'string' },
    model: { type: 'string', default: 'cifar10-cnn' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    limit: { type: 'string', default: '16mb' },
  },
});
if (values.store === undefined) {
  console.error('reference-ort-server: --store DIR is required');
  process.exit(2);
}

const store = openStore(values.store);
const version = await store.latestVersion(values.model);
if (version === undefined) {
  console.error(`reference-ort-server: model ${values.model} has no version in ${values.store}`);
  process.exit(2);
}
const { manifest, files } = await store.readVersion(values.model, version);
const onnxFile = manifest.artifacts?.onnx?.file ?? 'model.onnx';
const bytes = files.get(onnxFile);
if (bytes === undefined) {
  console.error(`reference-ort-server: ${values.model} v${version} has no ${onnxFile}`);
  process.exit(2);
}
const session = await ort.InferenceSession.create(bytes);
const inputName = session.inputNames[0] ?? 'input';
const outputName = session.outputNames[0] ?? 'output';
const rowShape = (manifest.inputs[0]?.shape ?? []).slice(1);

// Warm-up: the first run allocates and prepares the kernels.
await session.run({
  [inputName]: new ort.Tensor('float32', new Float32Array(rowShape.reduce((a, b) => a * b, 1)), [
    1,
    ...rowShape,
  ]),
});

const app = express();
app.disable('x-powered-by');
app.set('etag', false);
app.use(express.json({ limit: values.limit }));
app.get('/v2/health/ready', (_req, res) => {
  res.json({ ready: true });
});
app.get('/v2/models/:model/ready', (req, res) => {
  if (req.params.model === values.model) res.json({ name: values.model, ready: true });
  else res.status(404).json({ error: `unknown model ${req.params.model}` });
});
app.post('/v2/models/:model/infer', async (req: Request, res: Response) => {
  if (req.params.model !== values.model) {
    res.status(404).json({ error: `unknown model ${String(req.params.model)}` });
    return;
  }
  const body = req.body as { inputs?: { shape?: unknown; data?: unknown }[] } | undefined;
  const input = body?.inputs?.[0];
  const shape = input?.shape;
  const data = input?.data;
  if (
    !Array.isArray(shape) ||
    !Array.isArray(data) ||
    !shape.every((d) => Number.isInteger(d) && d > 0) ||
    data.length !== (shape as number[]).reduce((a, b) => a * b, 1)
  ) {
    res.status(400).json({ error: 'inputs[0] must have a "shape" and flat "data" of that size' });
    return;
  }
  try {
    const x = new ort.Tensor('float32', Float32Array.from(data as number[]), shape as number[]);
    const y = (await session.run({ [inputName]: x }))[outputName];
    res.json({
      model_name: values.model,
      model_version: String(version),
      outputs: [
        {
          name: manifest.outputs[0]?.name ?? outputName,
          shape: y?.dims,
          datatype: 'FP32',
          data: Array.from(y?.data as Float32Array),
        },
      ],
    });
  } catch (error) {
    res.status(400).json({ error: (error as Error).message });
  }
});
app.use((error: Error, _req: Request, res: Response, _next: NextFunction) => {
  res.status(500).json({ error: error.message });
});

const server = app.listen(Number(values.port), values.host, () => {
  const { port } = server.address() as AddressInfo;
  console.log(
    `listening http://${values.host}:${port} (onnxruntime-node ${ort.env.versions.common})`,
  );
});
const stop = (): void => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
