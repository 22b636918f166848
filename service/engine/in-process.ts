/**
 * ONNX Runtime sessions on the service's own thread (`mscr serve --onnx-placement main`), beside
 * the worker pool: the same `ModelRuntime` (onnx-runtime.ts) a worker runs, without the hop
 * to a worker thread and back.
 *
 * Why it exists: onnxruntime-node's `session.run` is a synchronous native call made from a
 * `setImmediate` (node_modules/onnxruntime-node/dist/backend.js): it computes on the calling
 * thread plus `intraOpNumThreads - 1` threads of its own. In a worker, every batch costs a
 * `postMessage` each way (structured clone of the request, transfer of the buffers) and
 * wakes a second JS thread per process; here the batch runs where the request was parsed.
 * The price: while a batch runs, this process's event loop waits (a CIFAR-10 batch of 32
 * takes a few milliseconds). Measured on the CIFAR-10 CNN (README, Benchmarks) the hop
 * costs 10-40 µs of CPU per request and this placement gained nothing consistent; big models
 * are better served from the workers.
 *
 * Batching, hot reload, warm-up, checksums, version states, metrics and errors are the
 * engine's (index.ts) and the loader's, as for the workers: only where the session lives
 * differs. One session per model, so at most one batch of a model runs at a time.
 */
import { MscrError, asMscrError } from '../../connectors/errors.ts';
import { checkInput } from './batcher.ts';
import { createOnnxRuntime } from './onnx-runtime.ts';
import type { ModelSignature, NamedTensor, RuntimeSpec } from './protocol.ts';
import type { ModelRuntime, RuntimeModel } from './runtime.ts';

export interface InProcessStats {
  models: number;
  inFlightRequests: number;
  /** Predict requests answered (successfully or not). */
  served: number;
}

export interface InProcessOptions {
  /** ONNX Runtime intra-op threads per session (the calling thread is one of them). */
  threads: number;
  /** Idle intra-op threads spin instead of sleeping (onnx-runtime.ts); default false. */
  spinning?: boolean;
}

export class InProcessModels {
  readonly threads: number;
  private readonly runtime: ModelRuntime;
  private readonly models = new Map<string, RuntimeModel>();
  private readonly running = new Set<Promise<unknown>>();
  private served = 0;
  private closing = false;

  constructor(options: InProcessOptions) {
    if (!Number.isInteger(options.threads) || options.threads < 1) {
      throw new MscrError(
        'config',
        `ONNX threads must be a positive integer; got ${options.threads}`,
      );
    }
    this.threads = options.threads;
    this.runtime = createOnnxRuntime({
      threads: options.threads,
      ...(options.spinning === undefined ? {} : { spinning: options.spinning }),
    });
  }

  /**
   * Loads (or replaces) a model version; resolves with its signature. Only ONNX Runtime
   * runs here: TF.js versions stay on the workers.
   */
  async load(
    key: string,
    files: Map<string, Uint8Array> | Record<string, Uint8Array>,
    spec: RuntimeSpec,
  ): Promise<ModelSignature> {
    if (this.closing) throw new MscrError('unavailable', 'the inference engine is closing');
    if (spec.engine !== 'onnx') {
      throw new MscrError('internal', `only ONNX Runtime runs in process, not ${spec.engine}`);
    }
    const map = files instanceof Map ? files : new Map(Object.entries(files));
    let model: RuntimeModel;
    try {
      model = await this.runtime.load(key, map, spec);
    } catch (error) {
      throw asMscrError(error);
    }
    const previous = this.models.get(key);
    this.models.set(key, model);
    if (previous !== undefined) {
      // As in unload: batches already running on the replaced session finish first.
      await Promise.allSettled([...this.running]);
      await previous.dispose();
    }
    return model.signature;
  }

  /** Removes a model version once the batches running on it are done. */
  async unload(key: string): Promise<void> {
    const model = this.models.get(key);
    if (model === undefined) throw new MscrError('not_found', `model ${key} is not loaded`);
    this.models.delete(key);
    await Promise.allSettled([...this.running]);
    await model.dispose();
  }

  has(key: string): boolean {
    return this.models.has(key);
  }

  keys(): string[] {
    return [...this.models.keys()];
  }

  signature(key: string): ModelSignature | undefined {
    return this.models.get(key)?.signature;
  }

  /**
   * Runs every input of model `key` (each `shape[0]` rows); resolves with every output.
   * The inputs are read, not kept: the caller may reuse them once this resolves.
   */
  predictTensors(key: string, inputs: NamedTensor[]): Promise<NamedTensor[]> {
    const model = this.models.get(key);
    if (this.closing) {
      return Promise.reject(new MscrError('unavailable', 'the inference engine is closing'));
    }
    if (model === undefined) {
      return Promise.reject(new MscrError('not_found', `model ${key} is not loaded`));
    }
    let run: Promise<NamedTensor[]>;
    try {
      if (inputs.length === 0) throw new MscrError('bad_request', 'no input tensors');
      for (const t of inputs) checkInput(t.data, t.shape);
      run = model.run(inputs);
    } catch (error) {
      return Promise.reject(asMscrError(error));
    }
    const tracked = run.then(
      (outputs) => outputs,
      (error: unknown) => {
        throw asMscrError(error);
      },
    );
    const settled = tracked.finally(() => {
      this.served++;
      this.running.delete(settled);
    });
    this.running.add(settled);
    return settled;
  }

  stats(): InProcessStats {
    return { models: this.models.size, inFlightRequests: this.running.size, served: this.served };
  }

  /** Waits for the running batches, then releases every session. Idempotent. */
  async close(): Promise<void> {
    this.closing = true;
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
    const models = [...this.models.values()];
    this.models.clear();
    await Promise.all(models.map((m) => m.dispose().catch(() => undefined)));
  }
}
