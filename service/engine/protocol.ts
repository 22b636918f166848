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
}

/**
 * Which engine runs a model and what it loads: the artifact file and, for ONNX, the graph
 * input fed and the output read (default: the graph's only input, its first output).
 */
export interface RuntimeSpec {
  engine: EngineName;
  file: string;
  input?: string;
  output?: string;
}

/** Shapes of a loaded model's (single) input and output; `-1` = any size. */
export interface ModelSignature {
  inputShape: number[];
  outputShape: number[];
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
  | { type: 'predict'; id: number; key: string; input: Float32Array; shape: number[] }
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
  | { type: 'output'; id: number; output: Float32Array; shape: number[] }
  | { type: 'error'; id: number; error: SerializedError };
