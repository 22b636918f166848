/**
 * A pool of inference worker threads (`worker.ts`), one per core by default. The wasm backend
 * of TF.js computes on a single thread per instance in Node, so each worker brings up its own
 * backend and together they use every core; the event loop of the main thread never runs a
 * model.
 *
 * - Every worker holds every loaded model version (`load` sends a copy of the files to each,
 *   in the transfer list). The pool keeps the caller's files (by reference: do not modify
 *   them after `load`) so that a replacement worker can reload them.
 * - `predict` goes to the least-busy ready worker (fewest in-flight rows, then requests);
 *   the input buffer is transferred to it and the output buffer transferred back.
 * - A request that fails inside a worker is answered with its error; the worker carries on.
 * - A worker that exits (crash, `process.exit`, out of memory) is replaced and its models are
 *   reloaded. Its in-flight requests fail with `MscrError('unavailable')` and are NOT retried
 *   on another worker: the request that crashed one worker would crash the next one too (a
 *   poison pill must not take the whole pool down), and 503 tells the client that a retry may
 *   help. While no worker is ready (all restarting) requests wait up to `readyTimeoutMs`.
 * - `close()` stops accepting work, lets in-flight requests finish, then ends the threads.
 *
 * How a worker thread is started (from source through tsx, or compiled): worker-spawn.ts.
 */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { MscrError, asMscrError, errorMessage, isMscrError } from '../../connectors/errors.ts';
import { checkInput } from './batcher.ts';
import type { BackendInfo, BackendPreference } from '../../runtime/backend/index.ts';
import { defaultOnnxThreads } from './onnx-runtime.ts';
import { createWorker } from './worker-spawn.ts';
import type {
  ModelSignature,
  NamedTensor,
  RuntimeSpec,
  SerializedError,
  WorkerRequest,
  WorkerResponse,
} from './protocol.ts';

/** The files of a model version: `modelToFiles` output or the same as a plain record. */
export type ModelFiles = Map<string, Uint8Array> | Record<string, Uint8Array>;

export interface PredictOutput {
  output: Float32Array;
  shape: number[];
}

export interface WorkerPoolOptions {
  /** Worker threads; default `os.availableParallelism()`. */
  size?: number;
  /** TF.js backend each worker brings up (`initBackend`); default 'auto'. */
  backend?: BackendPreference;
  /**
   * ONNX Runtime intra-op threads per session, in every worker; default
   * `max(1, floor(cores / size))`, so that workers x threads fits the cores.
   */
  onnxThreads?: number;
  /** Idle ONNX Runtime intra-op threads spin instead of sleeping; default false. */
  onnxSpinning?: boolean;
  /** How long a request waits for a ready worker when none is (all restarting); default 30 s. */
  readyTimeoutMs?: number;
  /** A worker that is not ready within this is ended and counts as failed; default 60 s. */
  startTimeoutMs?: number;
  /** Life-cycle events (worker exits, restarts, failed reloads), for logs and metrics. */
  onEvent?: (event: PoolEvent) => void;
}

export type PoolEvent =
  | { type: 'worker_ready'; worker: number; restart: boolean; backend: BackendInfo }
  | { type: 'worker_exit'; worker: number; exitCode: number; failedRequests: number }
  | { type: 'worker_start_failed'; worker: number; error: MscrError; retryInMs: number }
  | { type: 'reload_failed'; worker: number; key: string; error: MscrError };

export type WorkerState = 'starting' | 'syncing' | 'ready' | 'exited';

export interface WorkerStats {
  worker: number;
  threadId: number;
  state: WorkerState;
  inFlightRequests: number;
  inFlightRows: number;
  /** Predict requests answered (successfully or not) by this slot, across restarts. */
  served: number;
  restarts: number;
}

interface Pending {
  resolve: (response: WorkerResponse) => void;
  reject: (error: MscrError) => void;
  rows: number;
}

interface Slot {
  index: number;
  worker: Worker;
  state: WorkerState;
  pending: Map<number, Pending>;
  rows: number;
  startTimer: NodeJS.Timeout | undefined;
  /** Why the worker failed to start, when it did. */
  startError: MscrError | undefined;
  exited: Promise<void>;
}

interface Registered {
  files: Record<string, Uint8Array>;
  runtime: RuntimeSpec;
}

interface Waiter {
  check: () => boolean;
  resolve: () => void;
  reject: (error: MscrError) => void;
  timer: NodeJS.Timeout | undefined;
}

function toError(error: SerializedError): MscrError {
  return new MscrError(error.code, error.message);
}

function asRecord(files: ModelFiles): Record<string, Uint8Array> {
  return files instanceof Map ? Object.fromEntries(files) : { ...files };
}

/** A fresh copy of every file, each owning its buffer, and the buffers to transfer. */
function copyFiles(files: Record<string, Uint8Array>): {
  files: Record<string, Uint8Array>;
  transfer: ArrayBuffer[];
} {
  const copy: Record<string, Uint8Array> = {};
  const transfer: ArrayBuffer[] = [];
  for (const [name, bytes] of Object.entries(files)) {
    const owned = bytes.slice();
    copy[name] = owned;
    transfer.push(owned.buffer);
  }
  return { files: copy, transfer };
}

/** A buffer is transferred only when the array is its whole, unshared, buffer. */
function transferable(data: Float32Array): ArrayBuffer[] {
  const buffer = data.buffer;
  return buffer instanceof ArrayBuffer &&
    data.byteOffset === 0 &&
    data.byteLength === buffer.byteLength
    ? [buffer]
    : [];
}

export class WorkerPool {
  readonly size: number;
  private readonly backend: BackendPreference;
  readonly onnxThreads: number;
  readonly onnxSpinning: boolean;
  private readonly readyTimeoutMs: number;
  private readonly startTimeoutMs: number;
  private readonly onEvent: (event: PoolEvent) => void;
  private readonly slots: Slot[] = [];
  /** The files and runtime of every loaded version, for workers that start later. */
  private readonly registry = new Map<string, Registered>();
  private readonly signatures = new Map<string, ModelSignature>();
  private readonly waiters = new Set<Waiter>();
  private readonly operations = new Set<Promise<unknown>>();
  private readonly restartTimers = new Set<NodeJS.Timeout>();
  private readonly served: number[] = [];
  private readonly restarts: number[] = [];
  private readonly startFailures: number[] = [];
  private nextId = 1;
  private cursor = 0;
  private closing = false;
  private closed: Promise<void> | undefined;

  private constructor(options: WorkerPoolOptions) {
    const size = options.size ?? availableParallelism();
    if (!Number.isInteger(size) || size < 1) {
      throw new MscrError('config', `worker pool size must be a positive integer; got ${size}`);
    }
    this.size = size;
    this.backend = options.backend ?? 'auto';
    const threads = options.onnxThreads ?? defaultOnnxThreads(size, availableParallelism());
    if (!Number.isInteger(threads) || threads < 1) {
      throw new MscrError('config', `ONNX threads must be a positive integer; got ${threads}`);
    }
    this.onnxThreads = threads;
    this.onnxSpinning = options.onnxSpinning ?? false;
    this.readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
    this.startTimeoutMs = options.startTimeoutMs ?? 60_000;
    this.onEvent = options.onEvent ?? (() => undefined);
  }

  /** Starts the workers and resolves once every one has its backend up. */
  static async start(options: WorkerPoolOptions = {}): Promise<WorkerPool> {
    const pool = new WorkerPool(options);
    for (let i = 0; i < pool.size; i++) {
      pool.served.push(0);
      pool.restarts.push(0);
      pool.startFailures.push(0);
      pool.slots.push(pool.spawn(i));
    }
    try {
      await pool.waitFor(
        () => {
          const failed = pool.slots.find((s) => s.startError !== undefined);
          if (failed?.startError) throw failed.startError;
          return pool.slots.every((s) => s.state === 'ready');
        },
        pool.startTimeoutMs + 1_000,
        'the worker pool did not start',
      );
    } catch (error) {
      await pool.close();
      throw error;
    }
    return pool;
  }

  /**
   * Loads (or replaces) a model version on every worker; resolves with its signature.
   * `runtime` says which engine runs it; default TF.js from `model.json`.
   */
  load(
    key: string,
    files: ModelFiles,
    runtime: RuntimeSpec = { engine: 'tfjs', file: 'model.json' },
  ): Promise<ModelSignature> {
    return this.track(async () => {
      await this.waitFor(
        () => this.slots.some((s) => s.state === 'ready'),
        this.readyTimeoutMs,
        'no worker is ready',
      );
      const record: Registered = { files: asRecord(files), runtime };
      this.registry.set(key, record);
      const targets = this.slots.filter((s) => s.state === 'syncing' || s.state === 'ready');
      const results = await Promise.allSettled(targets.map((slot) => this.sendLoad(slot, key)));
      const loaded = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      const failure = results.find(
        (r): r is PromiseRejectedResult =>
          r.status === 'rejected' && !isMscrError(r.reason, 'unavailable'),
      );
      const signature = loaded[0];
      if (failure !== undefined || signature === undefined) {
        // Undo, unless a newer load of the same key replaced this one meanwhile.
        if (this.registry.get(key) === record) {
          this.registry.delete(key);
          await this.sendUnloadToAll(key);
        }
        const reason: unknown =
          failure?.reason ??
          results.find((r): r is PromiseRejectedResult => r.status === 'rejected')?.reason;
        throw isMscrError(reason)
          ? reason
          : new MscrError('unavailable', `model ${key} could not be loaded on any worker`);
      }
      this.signatures.set(key, signature);
      return signature;
    });
  }

  /** Removes a model version from every worker. Requests already sent to a worker finish. */
  unload(key: string): Promise<void> {
    return this.track(async () => {
      if (!this.registry.delete(key))
        throw new MscrError('not_found', `model ${key} is not loaded`);
      this.signatures.delete(key);
      await this.sendUnloadToAll(key);
    });
  }

  has(key: string): boolean {
    return this.registry.has(key);
  }

  keys(): string[] {
    return [...this.registry.keys()];
  }

  signature(key: string): ModelSignature | undefined {
    return this.signatures.get(key);
  }

  /**
   * Runs `input` (row-major, `shape[0]` rows) through model `key` on the least-busy worker.
   * The input's buffer is transferred (detached) when the array spans all of it; otherwise
   * it is copied. Resolves with the model's first output.
   */
  async predict(key: string, input: Float32Array, shape: number[]): Promise<PredictOutput> {
    const [first] = await this.predictTensors(key, [{ name: '', data: input, shape }]);
    if (first === undefined) throw new MscrError('internal', `model ${key} returned no output`);
    return { output: first.data, shape: first.shape };
  }

  /**
   * Runs every input of model `key` (each `shape[0]` rows, the same rows) on the least-busy
   * worker; resolves with every output. Buffers are transferred as in `predict`.
   */
  predictTensors(key: string, inputs: NamedTensor[]): Promise<NamedTensor[]> {
    return this.track(async () => {
      if (!this.registry.has(key)) throw new MscrError('not_found', `model ${key} is not loaded`);
      if (inputs.length === 0) throw new MscrError('bad_request', 'no input tensors');
      for (const t of inputs) checkInput(t.data, t.shape);
      // Synchronous when a worker is ready: the request is on its way when predict() returns.
      const slot = this.pick() ?? (await this.acquire());
      const rows = inputs[0]?.shape[0] ?? 1;
      let response: WorkerResponse;
      try {
        response = await this.send(
          slot,
          { type: 'predict', id: 0, key, inputs },
          [...new Set(inputs.flatMap((t) => transferable(t.data)))],
          rows,
        );
      } finally {
        this.served[slot.index] = (this.served[slot.index] ?? 0) + 1;
      }
      if (response.type !== 'output') {
        throw new MscrError('internal', `worker answered predict with ${response.type}`);
      }
      return response.outputs;
    });
  }

  /** Resolves when every worker is ready (e.g. after a replacement has reloaded its models). */
  whenAllReady(timeoutMs = this.readyTimeoutMs): Promise<void> {
    return this.waitFor(
      () => this.slots.every((s) => s.state === 'ready'),
      timeoutMs,
      'not every worker became ready',
    );
  }

  stats(): WorkerStats[] {
    return this.slots.map((slot) => ({
      worker: slot.index,
      threadId: slot.worker.threadId,
      state: slot.state,
      inFlightRequests: slot.pending.size,
      inFlightRows: slot.rows,
      served: this.served[slot.index] ?? 0,
      restarts: this.restarts[slot.index] ?? 0,
    }));
  }

  /**
   * Ends worker `index` abruptly, as a crash would: `'exit'` makes the thread call
   * `process.exit(70)` itself, `'terminate'` ends it from outside. For tests and chaos drills.
   */
  killWorker(index: number, how: 'exit' | 'terminate' = 'terminate'): void {
    const slot = this.slots[index];
    if (slot === undefined) throw new MscrError('bad_request', `no worker ${index}`);
    if (how === 'exit') slot.worker.postMessage({ type: 'exit', code: 70 } satisfies WorkerRequest);
    else void slot.worker.terminate();
  }

  /** Stops accepting work, waits for in-flight requests, then ends every worker. Idempotent. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      this.closing = true;
      // Requests that are waiting for a worker would wait for one that never comes.
      for (const waiter of this.waiters) {
        this.settleWaiter(waiter);
        waiter.reject(new MscrError('unavailable', 'the worker pool is closing'));
      }
      while (this.operations.size > 0) await Promise.allSettled([...this.operations]);
      for (const timer of this.restartTimers) clearTimeout(timer);
      this.restartTimers.clear();
      await Promise.all(
        this.slots.map(async (slot) => {
          await slot.worker.terminate();
          await slot.exited;
        }),
      );
    })();
    return this.closed;
  }

  // --- internals -------------------------------------------------------------------------

  /** A failing event listener must not break the pool. */
  private emit(event: PoolEvent): void {
    try {
      this.onEvent(event);
    } catch {
      // ignored
    }
  }

  private track<T>(operation: () => Promise<T>): Promise<T> {
    if (this.closing) {
      return Promise.reject(new MscrError('unavailable', 'the worker pool is closing'));
    }
    const promise = operation();
    this.operations.add(promise);
    const forget = (): void => {
      this.operations.delete(promise);
    };
    promise.then(forget, forget);
    return promise;
  }

  private spawn(index: number): Slot {
    const worker = createWorker({
      backend: this.backend,
      onnxThreads: this.onnxThreads,
      onnxSpinning: this.onnxSpinning,
    });
    let onExited: () => void = () => undefined;
    const slot: Slot = {
      index,
      worker,
      state: 'starting',
      pending: new Map(),
      rows: 0,
      startTimer: undefined,
      startError: undefined,
      exited: new Promise<void>((resolve) => (onExited = resolve)),
    };
    slot.startTimer = setTimeout(() => {
      slot.startError = new MscrError(
        'unavailable',
        `worker ${index} did not start within ${this.startTimeoutMs} ms`,
      );
      void worker.terminate();
    }, this.startTimeoutMs);
    slot.startTimer.unref();
    worker.on('message', (message: WorkerResponse) => this.onMessage(slot, message));
    worker.on('error', (error) => {
      // An uncaught error ends the thread; 'exit' follows and does the clean-up.
      if (slot.state === 'starting') {
        slot.startError = new MscrError(
          'unavailable',
          `worker ${index} failed to start: ${errorMessage(error)}`,
          { cause: error },
        );
      }
    });
    worker.on('exit', (exitCode) => {
      this.onExit(slot, exitCode);
      onExited();
    });
    return slot;
  }

  private onMessage(slot: Slot, message: WorkerResponse): void {
    switch (message.type) {
      case 'ready':
        clearTimeout(slot.startTimer);
        void this.sync(slot, message.backend);
        return;
      case 'init_error':
        clearTimeout(slot.startTimer);
        slot.startError = toError(message.error);
        void slot.worker.terminate();
        return;
      default: {
        const pending = slot.pending.get(message.id);
        if (pending === undefined) return;
        slot.pending.delete(message.id);
        slot.rows -= pending.rows;
        if (message.type === 'error') pending.reject(toError(message.error));
        else pending.resolve(message);
        this.changed();
      }
    }
  }

  /** A worker whose backend is up loads every registered model, then takes requests. */
  private async sync(slot: Slot, backend: BackendInfo): Promise<void> {
    slot.state = 'syncing';
    const restart =
      (this.restarts[slot.index] ?? 0) > 0 || (this.startFailures[slot.index] ?? 0) > 0;
    const keys = [...this.registry.keys()];
    await Promise.all(
      keys.map(async (key) => {
        try {
          await this.sendLoad(slot, key);
        } catch (error) {
          if (slot.state === 'exited') return;
          const mscr = asMscrError(error);
          this.emit({ type: 'reload_failed', worker: slot.index, key, error: mscr });
        }
      }),
    );
    if (slot.state !== 'syncing') return;
    slot.state = 'ready';
    this.startFailures[slot.index] = 0;
    this.emit({ type: 'worker_ready', worker: slot.index, restart, backend });
    this.changed();
  }

  private onExit(slot: Slot, exitCode: number): void {
    clearTimeout(slot.startTimer);
    const wasStarting = slot.state === 'starting';
    slot.state = 'exited';
    const failed = slot.pending.size;
    const error = new MscrError(
      'unavailable',
      `inference worker ${slot.index} exited (code ${exitCode}) before answering`,
    );
    for (const pending of slot.pending.values()) pending.reject(error);
    slot.pending.clear();
    slot.rows = 0;
    if (this.closing || this.slots[slot.index] !== slot) {
      this.changed();
      return;
    }
    let delay = 0;
    if (wasStarting) {
      const failures = (this.startFailures[slot.index] ?? 0) + 1;
      this.startFailures[slot.index] = failures;
      delay = Math.min(5_000, 100 * 2 ** (failures - 1));
      this.emit({
        type: 'worker_start_failed',
        worker: slot.index,
        error: slot.startError ?? error,
        retryInMs: delay,
      });
    } else {
      this.restarts[slot.index] = (this.restarts[slot.index] ?? 0) + 1;
      this.emit({ type: 'worker_exit', worker: slot.index, exitCode, failedRequests: failed });
    }
    this.changed();
    // During `start()` a failed worker fails the start (which closes the pool, cancelling this).
    this.scheduleRestart(slot.index, delay);
  }

  private scheduleRestart(index: number, delay: number): void {
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      if (this.closing) return;
      this.slots[index] = this.spawn(index);
    }, delay);
    this.restartTimers.add(timer);
  }

  private send(
    slot: Slot,
    message: WorkerRequest,
    transfer: ArrayBuffer[],
    rows = 0,
  ): Promise<WorkerResponse> {
    return new Promise<WorkerResponse>((resolve, reject) => {
      if (slot.state === 'exited') {
        reject(new MscrError('unavailable', `inference worker ${slot.index} has exited`));
        return;
      }
      const id = this.nextId++;
      if (message.type !== 'exit') message.id = id;
      slot.pending.set(id, { resolve, reject, rows });
      slot.rows += rows;
      try {
        slot.worker.postMessage(message, transfer);
      } catch (error) {
        slot.pending.delete(id);
        slot.rows -= rows;
        reject(new MscrError('bad_request', `cannot send the request: ${errorMessage(error)}`));
      }
    });
  }

  private async sendLoad(slot: Slot, key: string): Promise<ModelSignature> {
    const record = this.registry.get(key);
    if (record === undefined) throw new MscrError('not_found', `model ${key} is not loaded`);
    const { files, transfer } = copyFiles(record.files);
    const response = await this.send(
      slot,
      { type: 'load', id: 0, key, files, runtime: record.runtime },
      transfer,
    );
    if (response.type !== 'loaded') {
      throw new MscrError('internal', `worker answered load with ${response.type}`);
    }
    return response.signature;
  }

  private async sendUnloadToAll(key: string): Promise<void> {
    const targets = this.slots.filter((s) => s.state === 'syncing' || s.state === 'ready');
    await Promise.allSettled(
      targets.map((slot) => this.send(slot, { type: 'unload', id: 0, key }, [])),
    );
  }

  /** The least-busy ready worker; waits (bounded) while none is ready. */
  private async acquire(): Promise<Slot> {
    let best = this.pick();
    if (best === undefined) {
      await this.waitFor(
        () => this.slots.some((s) => s.state === 'ready'),
        this.readyTimeoutMs,
        'no inference worker is ready',
      );
      best = this.pick();
    }
    if (best === undefined) throw new MscrError('unavailable', 'no inference worker is ready');
    return best;
  }

  private pick(): Slot | undefined {
    let best: Slot | undefined;
    const n = this.slots.length;
    // Start at a rotating cursor so ties spread over the workers.
    for (let k = 0; k < n; k++) {
      const slot = this.slots[(this.cursor + k) % n];
      if (slot === undefined || slot.state !== 'ready') continue;
      if (
        best === undefined ||
        slot.rows < best.rows ||
        (slot.rows === best.rows && slot.pending.size < best.pending.size)
      ) {
        best = slot;
      }
    }
    this.cursor = (this.cursor + 1) % n;
    return best;
  }

  /** Resolves once `check()` is true (re-checked on every state change); rejects on timeout. */
  private waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
    try {
      if (check()) return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.closing) return Promise.reject(new MscrError('unavailable', 'the pool is closing'));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { check, resolve, reject, timer: undefined };
      waiter.timer = setTimeout(() => {
        this.settleWaiter(waiter);
        reject(new MscrError('unavailable', `${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  private settleWaiter(waiter: Waiter): void {
    clearTimeout(waiter.timer);
    this.waiters.delete(waiter);
  }

  private changed(): void {
    for (const waiter of [...this.waiters]) {
      let done: boolean;
      try {
        done = waiter.check();
      } catch (error) {
        this.settleWaiter(waiter);
        waiter.reject(asMscrError(error));
        continue;
      }
      if (done) {
        this.settleWaiter(waiter);
        waiter.resolve();
      }
    }
  }
}
