/**
 * The engine interface inside a worker thread: one per inference runtime (TF.js, ONNX
 * Runtime). A runtime only loads, runs and disposes; batching, hot reload, warm-up, checksums
 * and version states stay with the batcher, the pool and the reload manager, whatever runs
 * the model.
 */
import type { ModelSignature, NamedTensor, RuntimeSpec } from './protocol.ts';

/** A model loaded by one runtime in one worker. */
export interface RuntimeModel {
  readonly signature: ModelSignature;
  /**
   * Runs a batch: every input (`shape[0]` rows each, in the signature's order); resolves
   * with every served output, in the signature's order.
   */
  run(inputs: NamedTensor[]): Promise<NamedTensor[]>;
  dispose(): Promise<void>;
}

export interface ModelRuntime {
  /**
   * Builds a model from a version's files (already checksum-verified by the store). A file
   * the runtime cannot use is an `integrity` error (the version is corrupt or not servable).
   */
  load(key: string, files: Map<string, Uint8Array>, spec: RuntimeSpec): Promise<RuntimeModel>;
}

/** A typed array that owns its whole buffer, so the buffer can be transferred. */
export function owned(data: Float32Array): Float32Array {
  return data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : data.slice();
}

/** A model dimension as the signature has it: unknown, symbolic or non-positive -> -1. */
export function dim(value: number | string | null | undefined): number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : -1;
}
