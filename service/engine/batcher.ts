/**
 * Dynamic batching for one model version (the scheme of TF Serving and Triton): requests of
 * `[n, ...rest]` rows queue up, and a batch leaves when it holds `maxBatchSize` rows or when
 * its oldest request has waited `maxQueueDelayMs`, whichever comes first. The rows are
 * concatenated, run once, and the output rows are split back to their requests.
 *
 * - Requests are validated before they join a batch (rank and dims against the expected input
 *   shape, `-1` = any), so a bad request fails alone with `bad_request`.
 * - Requests with different rest-shapes (`shape.slice(1)`) queue apart and never share a batch.
 * - A request larger than `maxBatchSize` rows is run alone, as it is (it is not split).
 * - At most `maxInFlightBatches` batches run at once. While every slot is busy, ready batches
 *   wait (and keep growing up to `maxBatchSize`): under load batches fill up, instead of the
 *   backlog piling up behind the model in small batches. So the queue delay is a minimum
 *   wait, not a promise that a batch leaves by then. When several slots are free, the ready
 *   rows are spread over them (one batch per idle worker) rather than sent as one batch.
 * - Batches leave at the end of the current turn of the event loop (`setImmediate`), so what
 *   arrives in the same turn travels together; `maxQueueDelayMs: 0` waits for nothing more
 *   than that, and batches whatever queued up while the slots were busy (Triton's default).
 * - If a batch of several requests fails anyway, its requests are run again one by one, so
 *   only the culprit fails; not when the failure says the model cannot answer at all
 *   (`unavailable`, `not_found`): those fail the whole batch.
 * - Rows accepted and not yet answered (queued or running) are bounded by `maxQueueRows`;
 *   beyond it requests fail at once with `MscrError('unavailable', 'queue full')`.
 * - `enabled: false` or `maxBatchSize: 1` (or a model whose batch dimension is fixed) turns
 *   batching off: every request is run alone, within the same limits.
 */
import { MscrError, isMscrError } from '../../connectors/errors.ts';
import type { NamedTensor } from './protocol.ts';

export interface BatchOutput {
  output: Float32Array;
  shape: number[];
}

/** Runs a (batched) input through the model: rows in, as many rows out. */
export type RunBatch = (input: Float32Array, shape: number[]) => Promise<BatchOutput>;

/** Runs a batch of every input of a model (the same rows each): every output, as many rows. */
export type RunTensors = (inputs: NamedTensor[]) => Promise<NamedTensor[]>;

export interface BatchingOptions {
  /** Default true; false runs every request alone. */
  enabled?: boolean;
  /** Rows per batch at most; default 32. 1 = no batching. */
  maxBatchSize?: number;
  /** How long the oldest request of a batch waits for company; default 2 ms. */
  maxQueueDelayMs?: number;
  /** Rows accepted and not yet answered, at most; default 4096. */
  maxQueueRows?: number;
  /** Batches running at once, at most; default unbounded (the engine uses one per worker). */
  maxInFlightBatches?: number;
}

export interface BatcherOptions extends BatchingOptions {
  /** The model's input shape, `-1` = any size (the batch dimension usually is). */
  inputShape?: readonly number[];
  /** A model of several inputs: each one's shape, in order (the first overrides `inputShape`). */
  inputShapes?: readonly (readonly number[])[];
  /** Runs batches of several tensors (`submitTensors`); default: `run` on the one tensor. */
  runTensors?: RunTensors;
}

/** One dispatched batch, for metrics. */
export interface BatchStats {
  /** Rows in the batch. */
  size: number;
  /** Requests in the batch. */
  requests: number;
  /** How long its oldest request waited in the queue, in ms. */
  queueMs: number;
}

export interface BatcherStats {
  queuedRows: number;
  pendingRows: number;
  inFlightBatches: number;
  batches: number;
  /** Batches that failed and were re-run one request at a time. */
  fallbacks: number;
}

interface Request {
  inputs: NamedTensor[];
  rows: number;
  enqueuedAt: number;
  /** Set when the request has waited `maxQueueDelayMs` at the head of its lane. */
  due: boolean;
  resolve: (outputs: NamedTensor[]) => void;
  reject: (error: unknown) => void;
}

/** The queue of one rest-shape. */
interface Lane {
  key: string;
  items: Request[];
  rows: number;
  timer: NodeJS.Timeout | undefined;
}

export const DEFAULT_BATCHING = {
  enabled: true,
  maxBatchSize: 32,
  maxQueueDelayMs: 2,
  maxQueueRows: 4096,
} as const;

function positiveInteger(value: number, name: string, allowInfinity = false): number {
  if (!(Number.isInteger(value) && value >= 1) && !(allowInfinity && value === Infinity)) {
    throw new MscrError('config', `${name} must be a positive integer; got ${value}`);
  }
  return value;
}

function describe(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

/**
 * Checks a request against the expected input shape (`-1` = any). Throws
 * `MscrError('bad_request')` saying what is wrong.
 */
export function checkInput(
  input: Float32Array,
  shape: readonly number[],
  expected?: readonly number[],
): void {
  if (!(input instanceof Float32Array)) {
    throw new MscrError('bad_request', 'input must be a Float32Array');
  }
  if (!Array.isArray(shape) || shape.length === 0) {
    throw new MscrError('bad_request', 'shape must be a non-empty array [rows, ...]');
  }
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 1)) {
    throw new MscrError('bad_request', `shape ${describe(shape)} must hold positive integers`);
  }
  const size = shape.reduce((a, b) => a * b, 1);
  if (size !== input.length) {
    throw new MscrError(
      'bad_request',
      `shape ${describe(shape)} holds ${size} values, but the input has ${input.length}`,
    );
  }
  if (expected === undefined) return;
  if (shape.length !== expected.length) {
    throw new MscrError(
      'bad_request',
      `input shape ${describe(shape)} has rank ${shape.length}; the model expects ${describe(expected)} (rank ${expected.length})`,
    );
  }
  expected.forEach((want, axis) => {
    if (want !== -1 && shape[axis] !== want) {
      throw new MscrError(
        'bad_request',
        `input shape ${describe(shape)} does not fit the model's ${describe(expected)}: dimension ${axis} is ${shape[axis]}, expected ${want}`,
      );
    }
  });
}

/** The requests' rows, input by input: one tensor per model input. */
function concat(items: readonly Request[], rows: number): NamedTensor[] {
  const first = items[0];
  if (first === undefined) throw new MscrError('internal', 'empty batch');
  return first.inputs.map((head, k) => {
    const length = items.reduce((sum, r) => sum + (r.inputs[k]?.data.length ?? 0), 0);
    const data = new Float32Array(length);
    let offset = 0;
    for (const r of items) {
      const part = r.inputs[k]?.data ?? new Float32Array(0);
      data.set(part, offset);
      offset += part.length;
    }
    return { name: head.name, data, shape: [rows, ...head.shape.slice(1)] };
  });
}

export class Batcher {
  private readonly run: RunTensors;
  private readonly maxBatchSize: number;
  private readonly maxQueueDelayMs: number;
  private readonly maxQueueRows: number;
  private readonly maxInFlightBatches: number;
  private readonly inputShape: readonly number[] | undefined;
  private readonly inputShapes: readonly (readonly number[])[];
  private readonly lanes = new Map<string, Lane>();
  private readonly listeners = new Set<(stats: BatchStats) => void>();
  private queuedRows = 0;
  private pendingRows = 0;
  private inFlight = 0;
  private batches = 0;
  private fallbacks = 0;
  private closing = false;
  private drained: (() => void) | undefined;
  private closed: Promise<void> | undefined;
  private pumpScheduled: NodeJS.Immediate | undefined;

  constructor(run: RunBatch, options: BatcherOptions = {}) {
    this.run =
      options.runTensors ??
      (async ([only]) => {
        if (only === undefined) throw new MscrError('bad_request', 'no input tensor');
        const { output, shape } = await run(only.data, only.shape);
        return [{ name: only.name, data: output, shape }];
      });
    const enabled = options.enabled ?? DEFAULT_BATCHING.enabled;
    const size = positiveInteger(
      options.maxBatchSize ?? DEFAULT_BATCHING.maxBatchSize,
      'maxBatchSize',
    );
    this.inputShape = options.inputShapes?.[0] ?? options.inputShape;
    this.inputShapes = options.inputShapes ?? (this.inputShape ? [this.inputShape] : []);
    // A fixed batch dimension cannot take batches of another size.
    const fixedBatch = this.inputShape !== undefined && this.inputShape[0] !== -1;
    this.maxBatchSize = enabled && !fixedBatch ? size : 1;
    const delay = options.maxQueueDelayMs ?? DEFAULT_BATCHING.maxQueueDelayMs;
    if (!Number.isFinite(delay) || delay < 0) {
      throw new MscrError('config', `maxQueueDelayMs must be a number >= 0; got ${delay}`);
    }
    this.maxQueueDelayMs = delay;
    this.maxQueueRows = positiveInteger(
      options.maxQueueRows ?? DEFAULT_BATCHING.maxQueueRows,
      'maxQueueRows',
    );
    this.maxInFlightBatches = positiveInteger(
      options.maxInFlightBatches ?? Infinity,
      'maxInFlightBatches',
      true,
    );
  }

  /** Queues a request of `shape[0]` rows; resolves with its own output rows. */
  submit(input: Float32Array, shape: readonly number[]): Promise<BatchOutput> {
    return this.submitTensors([{ name: '', data: input, shape: [...shape] }]).then(([first]) => {
      if (first === undefined) throw new MscrError('internal', 'the model returned no output');
      return { output: first.data, shape: first.shape };
    });
  }

  /**
   * Queues a request of every model input (each `shape[0]` rows, the same rows, in the
   * model's order); resolves with its own rows of every output.
   */
  submitTensors(inputs: readonly NamedTensor[]): Promise<NamedTensor[]> {
    if (this.closing) {
      return Promise.reject(new MscrError('unavailable', 'the model is being unloaded'));
    }
    try {
      if (inputs.length === 0) throw new MscrError('bad_request', 'no input tensors');
      inputs.forEach((t, i) => checkInput(t.data, t.shape, this.inputShapes[i]));
      const rows0 = inputs[0]?.shape[0];
      const other = inputs.find((t) => t.shape[0] !== rows0);
      if (other !== undefined) {
        throw new MscrError(
          'bad_request',
          `inputs have ${rows0} and ${other.shape[0]} rows; every input of a request has the same rows`,
        );
      }
    } catch (error) {
      return Promise.reject(error);
    }
    const rows = inputs[0]?.shape[0] ?? 1;
    if (rows > this.maxQueueRows) {
      return Promise.reject(
        new MscrError(
          'payload_too_large',
          `${rows} rows in one request; at most ${this.maxQueueRows}`,
        ),
      );
    }
    if (this.pendingRows + rows > this.maxQueueRows) {
      return Promise.reject(new MscrError('unavailable', 'queue full'));
    }
    return new Promise<NamedTensor[]>((resolve, reject) => {
      let settled = false;
      const settle = (): boolean => {
        if (settled) return false;
        settled = true;
        this.pendingRows -= rows;
        return true;
      };
      const key = inputs.map((t) => t.shape.slice(1).join('x')).join('|');
      let lane = this.lanes.get(key);
      if (lane === undefined) {
        lane = { key, items: [], rows: 0, timer: undefined };
        this.lanes.set(key, lane);
      }
      const request: Request = {
        inputs: inputs.map((t) => ({ name: t.name, data: t.data, shape: [...t.shape] })),
        rows,
        enqueuedAt: performance.now(),
        due: this.maxBatchSize === 1 || this.maxQueueDelayMs === 0,
        // A request frees its rows of the queue bound the moment it is answered (once).
        resolve: (outputs) => {
          if (settle()) resolve(outputs);
        },
        reject: (error) => {
          if (settle()) reject(error);
        },
      };
      lane.items.push(request);
      lane.rows += rows;
      this.queuedRows += rows;
      this.pendingRows += rows;
      if (lane.items.length === 1 && !request.due) this.arm(lane);
      this.schedulePump();
    });
  }

  /** Calls `listener` for every dispatched batch; returns the unsubscribe function. */
  onBatch(listener: (stats: BatchStats) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  stats(): BatcherStats {
    return {
      queuedRows: this.queuedRows,
      pendingRows: this.pendingRows,
      inFlightBatches: this.inFlight,
      batches: this.batches,
      fallbacks: this.fallbacks,
    };
  }

  /**
   * Stops taking requests, sends what is queued without waiting for the delay, and resolves
   * once every accepted request is answered. Idempotent.
   */
  close(): Promise<void> {
    this.closed ??= new Promise<void>((resolve) => {
      this.closing = true;
      this.drained = resolve;
      for (const lane of this.lanes.values()) {
        clearTimeout(lane.timer);
        lane.timer = undefined;
      }
      this.pump();
      this.checkDrained();
    });
    return this.closed;
  }

  // --- internals -------------------------------------------------------------------------

  /**
   * Marks the lane's head due once it has waited the delay, and with it every request queued
   * behind it by then: they are the batch that formed in the head's window.
   */
  private arm(lane: Lane): void {
    const head = lane.items[0];
    if (head === undefined) return;
    const markDue = (): void => {
      for (const item of lane.items) item.due = true;
    };
    const wait = head.enqueuedAt + this.maxQueueDelayMs - performance.now();
    if (wait <= 0) {
      markDue();
      return;
    }
    lane.timer = setTimeout(() => {
      lane.timer = undefined;
      markDue();
      this.pump();
    }, wait);
  }

  private ready(lane: Lane): boolean {
    const head = lane.items[0];
    return head !== undefined && (this.closing || head.due || lane.rows >= this.maxBatchSize);
  }

  /**
   * Dispatches ready batches, oldest head first, while batch slots are free. Each batch is
   * cut to spread the ready rows over the free slots: with two idle workers, 20 queued rows
   * go as 10 + 10, not as one batch of 20 that leaves the other worker idle.
   */
  private pump(): void {
    while (this.inFlight < this.maxInFlightBatches) {
      let next: Lane | undefined;
      for (const lane of this.lanes.values()) {
        if (!this.ready(lane)) continue;
        const head = lane.items[0];
        const best = next?.items[0];
        if (head !== undefined && (best === undefined || head.enqueuedAt < best.enqueuedAt)) {
          next = lane;
        }
      }
      if (next === undefined) return;
      const free = this.maxInFlightBatches - this.inFlight;
      const limit =
        free === Infinity
          ? this.maxBatchSize
          : Math.min(this.maxBatchSize, Math.ceil(next.rows / free));
      this.dispatch(this.take(next, limit));
    }
  }

  /**
   * Pumps once the current turn of the event loop is over, not at once: requests that
   * arrive in the same turn (callers just answered sending their next ones) join the batch.
   */
  private schedulePump(): void {
    this.pumpScheduled ??= setImmediate(() => {
      this.pumpScheduled = undefined;
      this.pump();
    });
  }

  /** Takes up to `limit` rows from the head of a lane (at least one request). */
  private take(lane: Lane, limit: number): Request[] {
    const batch: Request[] = [];
    let rows = 0;
    while (lane.items.length > 0) {
      const head = lane.items[0];
      if (head === undefined || (batch.length > 0 && rows + head.rows > limit)) break;
      lane.items.shift();
      batch.push(head);
      rows += head.rows;
    }
    lane.rows -= rows;
    this.queuedRows -= rows;
    clearTimeout(lane.timer);
    lane.timer = undefined;
    if (lane.items.length === 0) this.lanes.delete(lane.key);
    else if (!this.closing && !lane.items[0]?.due) this.arm(lane);
    return batch;
  }

  private dispatch(batch: Request[]): void {
    const first = batch[0];
    if (first === undefined) return;
    const rows = batch.reduce((sum, r) => sum + r.rows, 0);
    this.inFlight++;
    this.batches++;
    const stats: BatchStats = {
      size: rows,
      requests: batch.length,
      queueMs: performance.now() - first.enqueuedAt,
    };
    for (const listener of this.listeners) {
      try {
        listener(stats);
      } catch {
        // A metrics listener must not break serving.
      }
    }
    // The slot is free as soon as the model has answered: the next batch (under load it is
    // already queued) leaves before this one's requests are answered, so the model does not
    // wait while the main thread encodes and writes those answers.
    let freed = false;
    const modelDone = () => {
      if (freed) return;
      freed = true;
      this.inFlight--;
      this.pump();
    };
    void this.execute(batch, rows, modelDone)
      .catch((error: unknown) => {
        // execute() answers every request itself; this only guards against a bug there.
        for (const r of batch) r.reject(error);
      })
      .finally(() => {
        if (!freed) {
          freed = true;
          this.inFlight--;
          this.schedulePump();
        }
        this.checkDrained();
      });
  }

  /** Runs a batch and answers its requests; `modelDone` once the model is done with it. */
  private async execute(batch: Request[], rows: number, modelDone: () => void): Promise<void> {
    const only = batch.length === 1 ? batch[0] : undefined;
    if (only !== undefined) {
      await this.runAlone(only, modelDone);
      return;
    }
    let result: NamedTensor[];
    try {
      result = await this.run(concat(batch, rows));
    } catch (error) {
      if (isMscrError(error, 'unavailable') || isMscrError(error, 'not_found')) {
        for (const r of batch) r.reject(error);
        return;
      }
      // Something in the batch upset the model: find out which request, one at a time.
      this.fallbacks++;
      for (const r of batch) await this.runAlone(r);
      return;
    }
    const bad = result.find((o) => o.shape[0] !== rows || !Number.isInteger(o.data.length / rows));
    if (bad !== undefined || result.length === 0) {
      const error = new MscrError(
        'internal',
        `a batch of ${rows} rows came back with shape ${describe(bad?.shape ?? [])}`,
      );
      for (const r of batch) r.reject(error);
      return;
    }
    modelDone();
    let offset = 0;
    for (const r of batch) {
      r.resolve(
        result.map((o) => {
          const rowSize = o.data.length / rows;
          return {
            name: o.name,
            data: o.data.slice(offset * rowSize, (offset + r.rows) * rowSize),
            shape: [r.rows, ...o.shape.slice(1)],
          };
        }),
      );
      offset += r.rows;
    }
  }

  private async runAlone(request: Request, modelDone?: () => void): Promise<void> {
    try {
      const outputs = await this.run(request.inputs);
      modelDone?.();
      request.resolve(outputs);
    } catch (error) {
      request.reject(error);
    }
  }

  private checkDrained(): void {
    if (this.drained !== undefined && this.pendingRows === 0) {
      const resolve = this.drained;
      this.drained = undefined;
      resolve();
    }
  }
}
