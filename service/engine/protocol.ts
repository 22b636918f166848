/**
 * The messages between the worker pool (main thread) and an inference worker thread.
 * Types only: both sides import it, neither pulls the other's code.
 *
 * Every request carries an `id`; the worker answers each request exactly once, with a
 * `result` (success) or an `error`. Buffers travel in the transfer list both ways.
 */
import type { ErrorCode } from '../../connectors/errors.ts';
import type { EngineName } from '../../connectors/ms/manifest.ts';
import type { BackendInfo, BackendPreference } from '../../runtime/backend/index.ts';

/** What a worker is started with (`workerData`). */
export interface WorkerInit {
  backend: BackendPreference;
  /** ONNX Runtime intra-op threads per session (each worker has its own sessions). */
  onnxThreads: number;
  /** Idle ONNX Runtime intra-op threads spin instead of sleeping (onnx-runtime.ts). */
  onnxSpinning: boolean;
}

/**
 * Which engine runs a model and what it loads: the artifact file and, for ONNX, the graph
 * input fed and the output read (default: the graph's only input, its first output).
 * A model of several inputs or outputs names them all (`inputs`, `outputs`: the manifest's
 * names, in its order): ONNX Runtime feeds and reads the graph tensors of those names,
 * TF.js feeds and reads its model's inputs and outputs in that order.
 */
export interface RuntimeSpec {
  engine: EngineName;
  file: string;
  input?: string;
  output?: string;
  inputs?: string[];
  outputs?: string[];
}

/** One named tensor, row-major float32 (`shape[0]` rows). */
export interface NamedTensor {
  name: string;
  data: Float32Array;
  shape: number[];
}

/** Shapes of a loaded model's inputs and outputs; `-1` = any size. */
export interface ModelSignature {
  /** The first input's and output's shapes. */
  inputShape: number[];
  outputShape: number[];
  /** Every input and output, by name, in the order the model serves them. */
  inputs: { name: string; shape: number[] }[];
  outputs: { name: string; shape: number[] }[];
}

export type WorkerRequest =
  | {
      type: 'load';
      id: number;
      key: string;
      files: Record<string, Uint8Array>;
      runtime: RuntimeSpec;
    }
  | { type: 'unload'; id: number; key: string }
  | { type: 'predict'; id: number; key: string; inputs: NamedTensor[] }
  /** Test hook: the worker ends its thread with `process.exit(code)`, as a crash would. */
  | { type: 'exit'; code: number };

export interface SerializedError {
  code: ErrorCode;
  message: string;
}

export type WorkerResponse =
  | { type: 'ready'; backend: BackendInfo }
  | { type: 'init_error'; error: SerializedError }
  | { type: 'loaded'; id: number; signature: ModelSignature }
  | { type: 'unloaded'; id: number }
  | { type: 'output'; id: number; outputs: NamedTensor[] }
  | { type: 'error'; id: number; error: SerializedError };
