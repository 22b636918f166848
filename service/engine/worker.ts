/**
 * One inference worker thread: its own TF.js backend (the wasm backend computes on one thread
 * per instance, so a pool of these is what uses every core) and the models it serves, keyed
 * by `model@version`.
 *
 * Requests are handled one at a time in arrival order (a load is finished before a predict
 * sent after it starts). A request that throws is answered with an error and the worker
 * carries on; only an uncaught error ends the thread, and the pool replaces it.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { MscrError, errorMessage, isMscrError } from '../../connectors/errors.ts';
import { modelFromFiles } from '../../connectors/ms/artifacts.ts';
import { initBackend } from '../../runtime/backend/index.ts';
import type {
  ModelSignature,
  SerializedError,
  WorkerInit,
  WorkerRequest,
  WorkerResponse,
} from './protocol.ts';

if (isMainThread || parentPort === null) {
  throw new Error('service/engine/worker.ts runs only as a worker thread (see worker-pool.ts)');
}
const port = parentPort;
const init = workerData as WorkerInit;
const models = new Map<string, tf.LayersModel>();

function send(message: WorkerResponse, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

/**
 * tfjs-layers reports inputs that do not fit the model with its (unexported) `ValueError`
 * class, whose `name` stays 'Error': the caller's fault, not the server's.
 */
function isValueError(error: unknown): error is Error {
  return (
    error instanceof Error &&
    (error.name === 'ValueError' || error.constructor.name === 'ValueError')
  );
}

function serialize(error: unknown): SerializedError {
  if (isMscrError(error)) return { code: error.code, message: error.message };
  if (isValueError(error)) {
    return { code: 'bad_request', message: error.message };
  }
  return { code: 'internal', message: errorMessage(error) };
}

function dims(shape: readonly (number | null)[]): number[] {
  return shape.map((d) => (d === null ? -1 : d));
}

async function load(key: string, files: Record<string, Uint8Array>): Promise<ModelSignature> {
  const model = await modelFromFiles(new Map(Object.entries(files)));
  const input = model.inputs.length === 1 ? model.inputs[0] : undefined;
  const output = model.outputs.length === 1 ? model.outputs[0] : undefined;
  if (input === undefined || output === undefined) {
    model.dispose();
    throw new MscrError(
      'bad_request',
      `model ${key} has ${model.inputs.length} inputs and ${model.outputs.length} outputs; ` +
        'the engine serves single-input, single-output models',
    );
  }
  models.get(key)?.dispose();
  models.set(key, model);
  return { inputShape: dims(input.shape), outputShape: dims(output.shape) };
}

function unload(key: string): void {
  models.get(key)?.dispose();
  models.delete(key);
}

/** A typed array that owns its whole buffer, so the buffer can be transferred. */
function owned(data: Float32Array): Float32Array {
  return data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : data.slice();
}

function predict(
  key: string,
  input: Float32Array,
  shape: number[],
): { output: Float32Array; shape: number[] } {
  const model = models.get(key);
  if (model === undefined) throw new MscrError('not_found', `model ${key} is not loaded`);
  const rows = shape[0] ?? 1;
  return tf.tidy(() => {
    const x = tf.tensor(input, shape, 'float32');
    // batchSize = rows: one pass, not tfjs' default chunks of 32.
    const y = model.predict(x, { batchSize: Math.max(1, rows) });
    if (Array.isArray(y)) throw new MscrError('internal', `model ${key} returned several outputs`);
    return { output: owned(y.dataSync() as Float32Array), shape: y.shape.slice() };
  });
}

type ModelRequest = Exclude<WorkerRequest, { type: 'exit' }>;

async function handle(request: ModelRequest): Promise<void> {
  switch (request.type) {
    case 'load':
      send({ type: 'loaded', id: request.id, signature: await load(request.key, request.files) });
      return;
    case 'unload':
      unload(request.key);
      send({ type: 'unloaded', id: request.id });
      return;
    case 'predict': {
      const result = predict(request.key, request.input, request.shape);
      send({ type: 'output', id: request.id, output: result.output, shape: result.shape }, [
        result.output.buffer as ArrayBuffer,
      ]);
      return;
    }
  }
}

let queue: Promise<void> = Promise.resolve();

async function start(): Promise<void> {
  let backend;
  try {
    backend = await initBackend(init.backend);
  } catch (error) {
    send({ type: 'init_error', error: serialize(error) });
    return;
  }
  port.on('message', (request: WorkerRequest) => {
    // The crash hook acts at once, as a real crash would, not after the queued requests.
    if (request.type === 'exit') process.exit(request.code);
    queue = queue.then(() =>
      handle(request).catch((error: unknown) => {
        send({ type: 'error', id: request.id, error: serialize(error) });
      }),
    );
  });
  send({ type: 'ready', backend });
}

await start();
