/**
 * One inference worker thread: its own TF.js backend (the wasm backend computes on one thread
 * per instance, so a pool of these is what uses every core) and the models it serves, keyed
 * by `model@version`, each on the runtime its load names (TF.js or ONNX Runtime).
 *
 * Requests are handled one at a time in arrival order (a load is finished before a predict
 * sent after it starts). A request that throws is answered with an error and the worker
 * carries on; only an uncaught error ends the thread, and the pool replaces it.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { MscrError, errorMessage, isMscrError } from '../../connectors/errors.ts';
import { initBackend } from '../../runtime/backend/index.ts';
import { createOnnxRuntime } from './onnx-runtime.ts';
import type {
  ModelSignature,
  NamedTensor,
  RuntimeSpec,
  SerializedError,
  WorkerInit,
  WorkerRequest,
  WorkerResponse,
} from './protocol.ts';
import type { ModelRuntime, RuntimeModel } from './runtime.ts';
import { tfjsRuntime } from './tfjs-runtime.ts';

if (isMainThread || parentPort === null) {
  throw new Error('service/engine/worker.ts runs only as a worker thread (see worker-pool.ts)');
}
const port = parentPort;
const init = workerData as WorkerInit;
const models = new Map<string, RuntimeModel>();
const runtimes: Record<RuntimeSpec['engine'], ModelRuntime> = {
  tfjs: tfjsRuntime,
  onnx: createOnnxRuntime({ threads: init.onnxThreads, spinning: init.onnxSpinning }),
};

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

async function load(
  key: string,
  files: Record<string, Uint8Array>,
  spec: RuntimeSpec,
): Promise<ModelSignature> {
  const model = await runtimes[spec.engine].load(key, new Map(Object.entries(files)), spec);
  const previous = models.get(key);
  models.set(key, model);
  await previous?.dispose();
  return model.signature;
}

async function unload(key: string): Promise<void> {
  const model = models.get(key);
  models.delete(key);
  await model?.dispose();
}

function predict(key: string, inputs: NamedTensor[]): Promise<NamedTensor[]> {
  const model = models.get(key);
  if (model === undefined) throw new MscrError('not_found', `model ${key} is not loaded`);
  return model.run(inputs);
}

type ModelRequest = Exclude<WorkerRequest, { type: 'exit' }>;

async function handle(request: ModelRequest): Promise<void> {
  switch (request.type) {
    case 'load':
      send({
        type: 'loaded',
        id: request.id,
        signature: await load(request.key, request.files, request.runtime),
      });
      return;
    case 'unload':
      await unload(request.key);
      send({ type: 'unloaded', id: request.id });
      return;
    case 'predict': {
      const outputs = await predict(request.key, request.inputs);
      // Each output owns its buffer (`owned`), so every buffer can be transferred.
      const buffers = [...new Set(outputs.map((o) => o.data.buffer as ArrayBuffer))];
      send({ type: 'output', id: request.id, outputs }, buffers);
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
