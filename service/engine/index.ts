/**
 * The inference engine of the Service layer: the data plane that protocol adapters (HTTP,
 * gRPC, ...) call with decoded tensors. It knows no protocol.
 *
 *   predict(key, input, shape) -> the key's Batcher (dynamic batching, validation, queue bound)
 *                              -> WorkerPool (least-busy worker thread, own TF.js backend each)
 *
 * Models are held by key, `model@version` (see `modelKey`). Versions are immutable, so loading
 * a key that is already loaded is a `conflict`: unload it first.
 */
import { availableParallelism } from 'node:os';
import { MscrError } from '../../connectors/errors.ts';
import type { BackendPreference } from '../../runtime/backend/index.ts';
import {
  Batcher,
  DEFAULT_BATCHING,
  type BatchOutput,
  type BatchStats,
  type BatcherStats,
  type BatchingOptions,
} from './batcher.ts';
import { WorkerPool, type ModelFiles, type PoolEvent, type WorkerStats } from './worker-pool.ts';
import { InProcessModels, type InProcessStats } from './in-process.ts';
import { defaultOnnxThreads } from './onnx-runtime.ts';
import type { NamedTensor, RuntimeSpec } from './protocol.ts';

export { Batcher, checkInput, DEFAULT_BATCHING } from './batcher.ts';
export type {
  BatchOutput,
  BatchStats,
  BatcherOptions,
  BatcherStats,
  BatchingOptions,
  RunBatch,
} from './batcher.ts';
export { WorkerPool } from './worker-pool.ts';
export type {
  ModelFiles,
  PoolEvent,
  PredictOutput,
  WorkerPoolOptions,
  WorkerState,
  WorkerStats,
} from './worker-pool.ts';
export type { ModelSignature, NamedTensor, RuntimeSpec } from './protocol.ts';
export { defaultOnnxThreads } from './onnx-runtime.ts';
export { InProcessModels } from './in-process.ts';
export type { InProcessStats } from './in-process.ts';

export interface EngineOptions {
  /** Worker threads; default `os.availableParallelism()`. */
  workers?: number;
  /** TF.js backend of every worker; default 'auto' (tfjs-node if installed, else wasm). */
  backend?: BackendPreference;
  /** ONNX Runtime threads per session per worker; default max(1, floor(cores / workers)). */
  onnxThreads?: number;
  /**
   * Run ONNX Runtime versions on this thread (in-process.ts) instead of in the workers; TF.js
   * versions stay on the workers. Default false. Their sessions compute on `onnxThreads`
   * threads (default: every core) including this one, one batch per model at a time.
   */
  onnxInProcess?: boolean;
  /**
   * Idle ONNX Runtime intra-op threads spin for the next piece of work instead of sleeping
   * (ONNX Runtime's own default). Default false: sleeping leaves the cores to HTTP work and
   * other sessions under load; spinning answers a lone request sooner on idle cores.
   */
  onnxSpinning?: boolean;
  /**
   * Defaults for every model: maxBatchSize 32, maxQueueDelayMs 2, maxQueueRows 4096,
   * maxInFlightBatches = workers (one batch per worker at a time: the backlog waits in the
   * batcher, where it can still join a batch, not in a worker's queue).
   */
  batching?: BatchingOptions;
  /** See `WorkerPoolOptions`. */
  readyTimeoutMs?: number;
  startTimeoutMs?: number;
  onEvent?: (event: PoolEvent) => void;
}

export interface LoadOptions {
  /**
   * The input shape requests must fit (`-1` = any), e.g. the manifest's `inputs[0].shape`.
   * Merged with the shape the model itself declares; a conflict is an `integrity` error.
   */
  inputShape?: readonly number[];
  /** A model of several inputs: each one's declared shape, in the model's order. */
  inputShapes?: readonly (readonly number[])[];
  /** Batching for this model, over the engine's defaults. */
  batching?: BatchingOptions;
  /** Which runtime runs it and from which file; default TF.js from `model.json`. */
  runtime?: RuntimeSpec;
}

export interface LoadedModel {
  key: string;
  engine: RuntimeSpec['engine'];
  inputShape: number[];
  outputShape: number[];
}

export interface EngineBatchStats extends BatchStats {
  key: string;
}

export interface EngineStats {
  workers: WorkerStats[];
  /** The ONNX Runtime sessions on the service's thread (`onnxInProcess`), if on. */
  inProcess?: InProcessStats;
  models: Record<string, BatcherStats>;
}

/** Where a version runs: a session on every worker, or one on the service's thread. */
interface Host {
  predictTensors(key: string, inputs: NamedTensor[]): Promise<NamedTensor[]>;
  unload(key: string): Promise<void>;
}

interface Entry {
  model: LoadedModel;
  batcher: Batcher;
  host: Host;
}

/** The key of a model version: `name@version`. */
export function modelKey(name: string, version: number): string {
  return `${name}@${version}`;
}

/** Combines two input shapes (`-1` = any); throws `integrity` when they disagree. */
export function mergeShapes(
  key: string,
  fromModel: readonly number[],
  declared: readonly number[] | undefined,
): number[] {
  if (declared === undefined) return [...fromModel];
  const conflict = (): MscrError =>
    new MscrError(
      'integrity',
      `model ${key} takes input [${fromModel.join(',')}], but [${declared.join(',')}] was declared`,
    );
  if (declared.length !== fromModel.length) throw conflict();
  return fromModel.map((dim, axis) => {
    const other = declared[axis] ?? -1;
    if (dim !== -1 && other !== -1 && dim !== other) throw conflict();
    return dim === -1 ? other : dim;
  });
}

export class InferenceEngine {
  readonly workers: number;
  private readonly pool: WorkerPool;
  private readonly local: InProcessModels | undefined;
  private readonly batching: BatchingOptions;
  private readonly entries = new Map<string, Entry>();
  /** Keys being loaded or unloaded right now. */
  private readonly busy = new Set<string>();
  private readonly listeners = new Set<(stats: EngineBatchStats) => void>();
  private closing: Promise<void> | undefined;

  private constructor(
    pool: WorkerPool,
    batching: BatchingOptions,
    local: InProcessModels | undefined,
  ) {
    this.pool = pool;
    this.local = local;
    this.workers = pool.size;
    this.batching = batching;
  }

  /** Starts the worker threads; resolves when all have their backend up. */
  static async start(options: EngineOptions = {}): Promise<InferenceEngine> {
    const workers = options.workers ?? availableParallelism();
    const batching: BatchingOptions = {
      ...DEFAULT_BATCHING,
      maxInFlightBatches: workers,
      ...options.batching,
    };
    // Check the batching options now, not at the first load.
    new Batcher(() => Promise.reject(new Error('unused')), batching);
    const local = options.onnxInProcess
      ? new InProcessModels({
          threads: options.onnxThreads ?? defaultOnnxThreads(1, availableParallelism()),
          ...(options.onnxSpinning === undefined ? {} : { spinning: options.onnxSpinning }),
        })
      : undefined;
    const pool = await WorkerPool.start({
      size: workers,
      ...(options.backend === undefined ? {} : { backend: options.backend }),
      ...(options.onnxThreads === undefined ? {} : { onnxThreads: options.onnxThreads }),
      ...(options.onnxSpinning === undefined ? {} : { onnxSpinning: options.onnxSpinning }),
      ...(options.readyTimeoutMs === undefined ? {} : { readyTimeoutMs: options.readyTimeoutMs }),
      ...(options.startTimeoutMs === undefined ? {} : { startTimeoutMs: options.startTimeoutMs }),
      ...(options.onEvent === undefined ? {} : { onEvent: options.onEvent }),
    });
    return new InferenceEngine(pool, batching, local);
  }

  /** Loads a model version into every worker and opens its batch queue. */
  async load(key: string, files: ModelFiles, options: LoadOptions = {}): Promise<LoadedModel> {
    if (this.closing) throw new MscrError('unavailable', 'the inference engine is closing');
    if (this.busy.has(key)) {
      throw new MscrError('conflict', `model ${key} is being loaded or unloaded`);
    }
    if (this.entries.has(key)) {
      throw new MscrError('conflict', `model ${key} is already loaded; unload it first`);
    }
    this.busy.add(key);
    try {
      const runtime = options.runtime ?? { engine: 'tfjs', file: 'model.json' };
      const local = runtime.engine === 'onnx' ? this.local : undefined;
      const host: Host = local ?? this.pool;
      const signature = await (local ?? this.pool).load(key, files, runtime);
      let inputs: { name: string; shape: number[] }[];
      try {
        const declared = options.inputShapes ?? [options.inputShape];
        if (options.inputShapes !== undefined && declared.length !== signature.inputs.length) {
          throw new MscrError(
            'integrity',
            `model ${key} has ${signature.inputs.length} inputs; ${declared.length} were declared`,
          );
        }
        inputs = signature.inputs.map((input, i) => ({
          name: input.name,
          shape: mergeShapes(key, input.shape, declared[i]),
        }));
      } catch (error) {
        await host.unload(key).catch(() => undefined);
        throw error;
      }
      const inputShape = inputs[0]?.shape ?? [];
      const model: LoadedModel = {
        key,
        engine: runtime.engine,
        inputShape,
        outputShape: signature.outputShape,
      };
      const runTensors = (tensors: NamedTensor[]) => host.predictTensors(key, tensors);
      const batcher = new Batcher(
        async (input, shape) => {
          const [first] = await runTensors([{ name: '', data: input, shape }]);
          if (first === undefined)
            throw new MscrError('internal', `model ${key} returned no output`);
          return { output: first.data, shape: first.shape };
        },
        {
          ...this.batching,
          // One session on this thread: one batch at a time (the backlog keeps batching).
          ...(local === undefined ? {} : { maxInFlightBatches: 1 }),
          ...options.batching,
          inputShape,
          inputShapes: inputs.map((i) => i.shape),
          runTensors,
        },
      );
      batcher.onBatch((stats) => {
        for (const listener of this.listeners) listener({ key, ...stats });
      });
      this.entries.set(key, { model, batcher, host });
      return model;
    } finally {
      this.busy.delete(key);
    }
  }

  /**
   * Stops taking requests for `key` (they get `not_found`), answers the ones already
   * accepted, then removes the model from the workers.
   */
  async unload(key: string): Promise<void> {
    const entry = this.entries.get(key);
    if (entry === undefined) throw new MscrError('not_found', `model ${key} is not loaded`);
    this.entries.delete(key);
    this.busy.add(key);
    try {
      await entry.batcher.close();
      await entry.host.unload(key);
    } finally {
      this.busy.delete(key);
    }
  }

  /**
   * Runs `input` (row-major, `shape = [rows, ...]`) through model `key`, batched with other
   * requests. The engine takes ownership of `input`: its buffer may be transferred to a
   * worker thread (and so detached), so do not reuse it.
   */
  predict(key: string, input: Float32Array, shape: readonly number[]): Promise<BatchOutput> {
    if (this.closing) {
      return Promise.reject(new MscrError('unavailable', 'the inference engine is closing'));
    }
    const entry = this.entries.get(key);
    if (entry === undefined) {
      return Promise.reject(new MscrError('not_found', `model ${key} is not loaded`));
    }
    return entry.batcher.submit(input, shape);
  }

  /**
   * Runs every input of model `key` (each `shape[0]` rows, the same rows, in the model's
   * order), batched with other requests; resolves with every output, in the model's order.
   * Takes ownership of the inputs' buffers, as `predict` does.
   */
  predictTensors(key: string, inputs: readonly NamedTensor[]): Promise<NamedTensor[]> {
    if (this.closing) {
      return Promise.reject(new MscrError('unavailable', 'the inference engine is closing'));
    }
    const entry = this.entries.get(key);
    if (entry === undefined) {
      return Promise.reject(new MscrError('not_found', `model ${key} is not loaded`));
    }
    return entry.batcher.submitTensors(inputs);
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  models(): LoadedModel[] {
    return [...this.entries.values()].map((e) => e.model);
  }

  /** Calls `listener` for every batch dispatched, of any model; returns the unsubscribe. */
  onBatch(listener: (stats: EngineBatchStats) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  stats(): EngineStats {
    const models: Record<string, BatcherStats> = {};
    for (const [key, entry] of this.entries) models[key] = entry.batcher.stats();
    return {
      workers: this.pool.stats(),
      ...(this.local === undefined ? {} : { inProcess: this.local.stats() }),
      models,
    };
  }

  /** The worker pool, for readiness checks and chaos drills (`killWorker`). */
  get workerPool(): WorkerPool {
    return this.pool;
  }

  /**
   * Graceful shutdown: stops accepting requests, answers every accepted one (queued batches
   * leave at once), then ends the worker threads. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all([...this.entries.values()].map((e) => e.batcher.close()));
      await Promise.all([this.pool.close(), this.local?.close()]);
    })();
    return this.closing;
  }
}
