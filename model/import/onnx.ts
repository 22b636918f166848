/**
 * Importing an ONNX file: its signature from the `ModelProto` (connectors/ms/onnx.ts), then
 * the real test of whether it can serve here: ONNX Runtime builds a session from it (an
 * opset or operator this runtime lacks fails now, not at serving) and runs it once on zeros
 * of the served shape.
 */
import * as ort from 'onnxruntime-node';
import { MscrError, errorMessage } from '../../connectors/errors.ts';
import type { ManifestDraft, TensorDtype } from '../../connectors/ms/manifest.ts';
import { readOnnxModel, type OnnxValueInfo } from '../../connectors/ms/onnx.ts';
import { describe, type DescribeOptions } from './describe.ts';

export const ONNX_FILE = 'model.onnx';

export interface OnnxImportOptions extends DescribeOptions {
  /** `--output NAME`: the graph output to serve; default the class probabilities of a classifier, else the first. */
  output?: string;
}

/** Names converters give the probability output of a classifier. */
const PROBABILITY_OUTPUTS = ['probabilities', 'output_probability', 'probability'];

function manifestDtype(elemType: string | undefined): TensorDtype {
  if (elemType === 'bool') return 'bool';
  if (elemType?.startsWith('int') || elemType?.startsWith('uint')) return 'int32';
  return 'float32';
}

function pickOutput(outputs: OnnxValueInfo[], wanted: string | undefined): OnnxValueInfo {
  if (wanted !== undefined) {
    const found = outputs.find((o) => o.name === wanted);
    if (!found) {
      throw new MscrError(
        'bad_request',
        `--output ${wanted}: the model's outputs are ${outputs.map((o) => o.name).join(', ')}`,
      );
    }
    return found;
  }
  const zipmap = `a scikit-learn classifier converted with ZipMap gives its probabilities as a sequence of maps, which mscr cannot serve: convert with options={id(model): {"zipmap": False}}`;
  const named = outputs.find((o) => PROBABILITY_OUTPUTS.includes(o.name));
  if (named !== undefined && named.kind !== 'tensor') {
    throw new MscrError('bad_data', `output ${named.name} is a ${named.kind}: ${zipmap}`);
  }
  const tensors = outputs.filter((o) => o.kind === 'tensor');
  const probabilities = tensors.find((o) => PROBABILITY_OUTPUTS.includes(o.name));
  const first = probabilities ?? tensors[0];
  if (first === undefined) {
    const kinds = outputs.map((o) => `${o.name} (${o.kind})`).join(', ');
    throw new MscrError('bad_data', `the model has no tensor output (${kinds}); ${zipmap}`);
  }
  return first;
}

async function tryRun(
  bytes: Uint8Array,
  input: OnnxValueInfo,
  shape: number[],
  output: string,
): Promise<number[]> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  } catch (error) {
    throw new MscrError(
      'bad_data',
      `ONNX Runtime ${ort.env.versions.common} cannot load the model (an opset or operator it does not support, or a broken graph): ${errorMessage(error)}`,
      { cause: error },
    );
  }
  try {
    const warm = shape.map((d) => (d === -1 ? 1 : d));
    const size = warm.reduce((a, b) => a * b, 1);
    const type = (input.elemType ?? 'float32') as 'float32';
    const data =
      type === ('int64' as string)
        ? new BigInt64Array(size)
        : type === ('float64' as string)
          ? new Float64Array(size)
          : type === ('int32' as string)
            ? new Int32Array(size)
            : new Float32Array(size);
    const results = await session.run(
      { [input.name]: new ort.Tensor(type, data as Float32Array, warm) },
      [output],
    );
    return (results[output] as ort.Tensor).dims.map(Number);
  } catch (error) {
    if (error instanceof MscrError) throw error;
    throw new MscrError(
      'bad_data',
      `the model loads but a test inference on zeros of shape [${shape.join(', ')}] fails: ${errorMessage(error)}`,
      { cause: error },
    );
  } finally {
    await session.release();
  }
}

/**
 * Inspects an ONNX file and returns the manifest draft (without name) and the files of the
 * version. Throws `bad_data` (the file) or `bad_request` (the flags) before anything is written.
 */
export async function describeOnnx(
  bytes: Uint8Array,
  source: string,
  options: OnnxImportOptions,
): Promise<{
  draft: Omit<ManifestDraft, 'name' | 'data' | 'training' | 'metrics'>;
  files: Map<string, Uint8Array>;
}> {
  const info = readOnnxModel(bytes, source);
  const inputs = info.inputs;
  const input = inputs[0];
  if (input === undefined || inputs.length !== 1) {
    throw new MscrError(
      'bad_data',
      `the model has ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')}); mscr serves models with exactly one input`,
    );
  }
  if (input.kind !== 'tensor' || input.shape === undefined) {
    throw new MscrError(
      'bad_data',
      `the model's input ${input.name} is a ${input.kind}, not a tensor`,
    );
  }
  if (input.elemType === 'string' || input.elemType === 'float16') {
    throw new MscrError(
      'bad_data',
      `the model's input ${input.name} is ${input.elemType}; mscr feeds numeric tensors (float32, float64, integers)`,
    );
  }
  const output = pickOutput(info.outputs, options.output);
  if (output.kind !== 'tensor') {
    throw new MscrError('bad_data', `output ${output.name} is a ${output.kind}, not a tensor`);
  }
  const described = describe(input.shape, output.shape ?? [], info.classLabels, options);
  const actual = await tryRun(bytes, input, described.inputShape, output.name);
  const outputShape = (output.shape ?? actual).map((d, i) =>
    i === 0 ? -1 : d === -1 ? (actual[i] ?? -1) : d,
  );
  return {
    draft: {
      framework: {
        name: 'onnx',
        version: ort.env.versions.common,
        format: 'onnx',
        opset: info.opset,
        ...(info.producer === '' ? {} : { producer: info.producer }),
      },
      artifacts: { onnx: { file: ONNX_FILE, input: input.name, output: output.name } },
      task: described.task,
      architecture: 'imported',
      inputs: [
        { name: input.name, dtype: manifestDtype(input.elemType), shape: described.inputShape },
      ],
      outputs: [{ name: output.name, dtype: 'float32', shape: outputShape }],
      ...(described.labels ? { labels: described.labels } : {}),
      preprocessing: described.preprocessing,
    },
    files: new Map([[ONNX_FILE, bytes]]),
  };
}
