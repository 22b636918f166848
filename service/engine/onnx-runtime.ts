/**
 * The ONNX Runtime engine (`onnxruntime-node`, CPU execution provider): native kernels with
 * their own intra-op thread pool per session, where the TF.js wasm backend computes on one
 * thread per worker.
 *
 * Threads: each worker holds its own session per model, and each session computes on
 * `intraOpNumThreads` threads. Keep `workers x threads <= cores` (the default, see
 * `defaultOnnxThreads`): more only makes the threads take turns on the cores.
 *
 * The service speaks float32 to a model; other numeric input types (float64, int32, int64,
 * uint8, ...) are converted here, so a model that takes int64 token ids or float64 features
 * serves too. A non-tensor output (a scikit-learn classifier converted with ZipMap gives a
 * sequence of maps) cannot be served: the load says to convert with `zipmap=False`.
 */
import type * as Ort from 'onnxruntime-node';
import { MscrError, errorMessage } from '../../connectors/errors.ts';
import type { NamedTensor } from './protocol.ts';
import { dim, owned, type ModelRuntime } from './runtime.ts';

type OrtModule = typeof Ort;
let ortModule: Promise<OrtModule> | undefined;

/** Loaded on first use, so workers that serve only TF.js models never load the native library. */
function ort(): Promise<OrtModule> {
  ortModule ??= import('onnxruntime-node');
  return ortModule;
}

type NumericType =
  | 'float32'
  | 'float64'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64';
type TypedArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/** float32 -> the model's input type. Integer types round, as a cast of a whole number does. */
const FROM_FLOAT32: Record<NumericType, (data: Float32Array) => TypedArray> = {
  float32: (d) => d,
  float64: (d) => Float64Array.from(d),
  int8: (d) => Int8Array.from(d, Math.round),
  uint8: (d) => Uint8Array.from(d, Math.round),
  int16: (d) => Int16Array.from(d, Math.round),
  uint16: (d) => Uint16Array.from(d, Math.round),
  int32: (d) => Int32Array.from(d, Math.round),
  uint32: (d) => Uint32Array.from(d, Math.round),
  int64: (d) => BigInt64Array.from(d, (v) => BigInt(Math.round(v))),
  uint64: (d) => BigUint64Array.from(d, (v) => BigInt(Math.max(0, Math.round(v)))),
};

function isNumericType(type: string): type is NumericType {
  return type in FROM_FLOAT32;
}

function toFloat32(data: unknown, type: string, where: string): Float32Array {
  if (data instanceof Float32Array) return owned(data);
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    return Float32Array.from(data, (v) => Number(v));
  }
  if (ArrayBuffer.isView(data) && !(data instanceof DataView)) {
    return Float32Array.from(data as unknown as ArrayLike<number>);
  }
  throw new MscrError('internal', `${where}: output of type ${type} is not numeric`);
}

/** Threads per ONNX Runtime session so that `workers x threads` fits the cores. */
export function defaultOnnxThreads(workers: number, cores: number): number {
  return Math.max(1, Math.floor(cores / Math.max(1, workers)));
}

export interface OnnxRuntimeOptions {
  /** Intra-op threads per session. */
  threads: number;
  /**
   * Let idle intra-op threads spin for the next piece of work (ONNX Runtime's own default)
   * instead of sleeping. Default false: see the comment at the session options.
   */
  spinning?: boolean;
}

export function createOnnxRuntime(options: OnnxRuntimeOptions): ModelRuntime {
  const allowSpinning = options.spinning === true ? '1' : '0';
  return {
    async load(key, files, spec) {
      const bytes = files.get(spec.file);
      if (bytes === undefined) {
        throw new MscrError('integrity', `model ${key} has no ${spec.file} for ONNX Runtime`);
      }
      const { InferenceSession, Tensor } = await ort();
      let session: Ort.InferenceSession;
      try {
        session = await InferenceSession.create(bytes, {
          intraOpNumThreads: options.threads,
          // One request graph at a time per session; parallelism comes from workers and intra-op threads.
          interOpNumThreads: 1,
          executionMode: 'sequential',
          graphOptimizationLevel: 'all',
          logSeverityLevel: 3,
          // By default idle intra-op threads sleep instead of spinning for the next parallel
          // section: a service shares its cores with HTTP work and other sessions, and a
          // spinning thread takes the core the thread it waits for needs. Measured on the
          // CIFAR-10 CNN, 2 threads, on 2 busy cores: 1.5-4x the rows/s and 30-50 % less CPU
          // per row (bench/compare/ceilings.ts measures both). Spinning (`spinning: true`)
          // answers a lone request sooner on idle cores: the threads are awake when it comes
          // (`session.force_spinning_stop` would send them to sleep after every run, which
          // loses exactly that). No effect with one thread.
          extra: { session: { intra_op: { allow_spinning: allowSpinning } } },
        });
      } catch (error) {
        throw new MscrError(
          'integrity',
          `ONNX Runtime cannot load ${spec.file} of model ${key}: ${errorMessage(error)}`,
          { cause: error },
        );
      }
      try {
        // Several inputs or outputs: the manifest names them all (graph names). One: the
        // artifact's `input`/`output`, else the graph's only input and first output.
        const multi =
          spec.inputs !== undefined && (spec.inputs.length > 1 || (spec.outputs?.length ?? 0) > 1);
        const inputNames = multi
          ? (spec.inputs as string[])
          : [spec.input ?? session.inputNames[0] ?? ''];
        const outputNames = multi
          ? (spec.outputs ?? session.outputNames)
          : [spec.output ?? session.outputNames[0] ?? ''];
        if (!multi && session.inputNames.length !== 1) {
          throw new MscrError(
            'integrity',
            `model ${key} has ${session.inputNames.length} inputs (${session.inputNames.join(', ')}); its manifest names one`,
          );
        }
        if (!multi && inputNames[0] !== session.inputNames[0]) {
          throw new MscrError(
            'integrity',
            `model ${key}: the manifest names input ${inputNames[0]}, the graph's is ${session.inputNames[0]}`,
          );
        }
        const inputs = inputNames.map((name) => {
          const index = session.inputNames.indexOf(name);
          const meta = session.inputMetadata[index];
          if (index < 0 || meta === undefined) {
            throw new MscrError(
              'integrity',
              `model ${key}: no input ${name} in the graph (inputs: ${session.inputNames.join(', ')})`,
            );
          }
          if (!meta.isTensor) {
            throw new MscrError('integrity', `model ${key}: input ${name} is not a tensor`);
          }
          if (!isNumericType(meta.type)) {
            throw new MscrError(
              'integrity',
              `model ${key}: input ${name} is ${meta.type}; the engine feeds numeric tensors`,
            );
          }
          return {
            name,
            type: meta.type,
            convert: FROM_FLOAT32[meta.type],
            shape: meta.shape.map(dim),
          };
        });
        const outputs = outputNames.map((name) => {
          const index = session.outputNames.indexOf(name);
          const meta = session.outputMetadata[index];
          if (index < 0 || meta === undefined) {
            throw new MscrError(
              'integrity',
              `model ${key}: no output ${name} in the graph (outputs: ${session.outputNames.join(', ')})`,
            );
          }
          if (!meta.isTensor) {
            throw new MscrError(
              'integrity',
              `model ${key}: output ${name} is not a tensor (a scikit-learn classifier converted with ZipMap gives a sequence of maps; convert with options={id(model): {"zipmap": False}})`,
            );
          }
          return { name, shape: meta.shape.map(dim) };
        });
        const where = `model ${key}`;
        return {
          signature: {
            inputShape: inputs[0]?.shape ?? [],
            outputShape: outputs[0]?.shape ?? [],
            inputs: inputs.map(({ name, shape }) => ({ name, shape })),
            outputs,
          },
          async run(tensors): Promise<NamedTensor[]> {
            const feeds: Record<string, Ort.Tensor> = {};
            inputs.forEach((input, i) => {
              // By name; a single input is the one tensor whatever the caller called it.
              const tensor =
                inputs.length === 1 ? tensors[0] : tensors.find((t) => t.name === input.name);
              const given = tensor ?? tensors[i];
              if (given === undefined)
                throw new MscrError('bad_request', `${where}: no input ${input.name}`);
              feeds[input.name] = new Tensor(input.type, input.convert(given.data), given.shape);
            });
            let results: Ort.InferenceSession.OnnxValueMapType;
            try {
              results = await session.run(feeds, outputNames);
            } catch (error) {
              // The batcher checked the shape against the signature; what is left is a
              // value the graph rejects at run time (an index out of range, ...).
              throw new MscrError('bad_request', `${where}: ${errorMessage(error)}`, {
                cause: error,
              });
            }
            return outputNames.map((name) => {
              const value = results[name] as Ort.Tensor | undefined;
              if (value === undefined) {
                throw new MscrError('internal', `${where}: no ${name} in the results`);
              }
              const data = toFloat32(value.data, value.type, where);
              const shape = value.dims.map(Number);
              value.dispose();
              return { name, data, shape };
            });
          },
          async dispose() {
            await session.release();
          },
        };
      } catch (error) {
        await session.release().catch(() => undefined);
        throw error;
      }
    },
  };
}
