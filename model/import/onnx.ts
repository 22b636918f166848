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
import { describe, detectionOf, type DescribeOptions } from './describe.ts';

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

function zeros(input: OnnxValueInfo, shape: number[]): ort.Tensor {
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
  return new ort.Tensor(type, data as Float32Array, warm);
}

/** Runs the model once on zeros of the served input shapes; the outputs' actual shapes. */
async function tryRun(
  bytes: Uint8Array,
  inputs: { info: OnnxValueInfo; shape: number[] }[],
  outputs: string[],
): Promise<number[][]> {
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
    const feeds = Object.fromEntries(inputs.map((i) => [i.info.name, zeros(i.info, i.shape)]));
    const results = await session.run(feeds, outputs);
    return outputs.map((name) => (results[name] as ort.Tensor).dims.map(Number));
  } catch (error) {
    if (error instanceof MscrError) throw error;
    throw new MscrError(
      'bad_data',
      `the model loads but a test inference on zeros of shape ${inputs.map((i) => `[${i.shape.join(', ')}]`).join(' and ')} fails: ${errorMessage(error)}`,
      { cause: error },
    );
  } finally {
    await session.release();
  }
}

function checkTensorInput(input: OnnxValueInfo): number[] {
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
  return input.shape;
}

/** Served shapes: the batch dimension dynamic, others as run (`actual`) where the graph leaves them open. */
function servedShape(declared: number[] | undefined, actual: number[]): number[] {
  return (declared ?? actual).map((d, i) => (i === 0 ? -1 : d === -1 ? (actual[i] ?? -1) : d));
}

/**
 * A model of several inputs, or of several tensor outputs none of which is a classifier's
 * probabilities (and no `--output`): served as it is (`raw`), every input and output by name.
 */
async function describeSeveral(
  bytes: Uint8Array,
  info: ReturnType<typeof readOnnxModel>,
  options: OnnxImportOptions,
) {
  const flags = [
    options.labels && '--labels',
    options.features && '--features',
    options.image && Object.values(options.image).some((v) => v !== undefined) && 'image flags',
    options.task && options.task !== 'raw' && `--task ${options.task}`,
  ].filter(Boolean);
  if (flags.length > 0) {
    throw new MscrError(
      'bad_request',
      `the model has ${info.inputs.length} inputs and ${info.outputs.length} outputs: it is served as it is (task raw, every input and output by name), so ${flags.join(', ')} do not apply${info.inputs.length === 1 ? '; pass --output NAME to serve one output with them' : ''}`,
    );
  }
  const inputs = info.inputs.map((input) => {
    const shape = describe(checkTensorInput(input), [], undefined, { task: 'raw' }).inputShape;
    return { info: input, shape };
  });
  const outputs =
    options.output !== undefined
      ? [pickOutput(info.outputs, options.output)]
      : info.outputs.filter((o) => o.kind === 'tensor');
  if (outputs.length === 0) pickOutput(info.outputs, undefined); // throws, saying why
  const actual = await tryRun(
    bytes,
    inputs,
    outputs.map((o) => o.name),
  );
  return {
    task: 'raw' as const,
    inputs: inputs.map(({ info: input, shape }) => ({
      name: input.name,
      dtype: manifestDtype(input.elemType),
      shape,
    })),
    outputs: outputs.map((o, i) => ({
      name: o.name,
      dtype: 'float32' as const,
      shape: servedShape(o.shape, actual[i] ?? []),
    })),
  };
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
  if (input === undefined) throw new MscrError('bad_data', 'the model has no input');
  const framework = {
    name: 'onnx' as const,
    version: ort.env.versions.common,
    format: 'onnx' as const,
    opset: info.opset,
    ...(info.producer === '' ? {} : { producer: info.producer }),
  };
  const tensorOutputs = info.outputs.filter((o) => o.kind === 'tensor');
  const classifier = info.outputs.some((o) => PROBABILITY_OUTPUTS.includes(o.name));
  if (
    inputs.length > 1 ||
    (options.output === undefined && !classifier && tensorOutputs.length > 1)
  ) {
    const several = await describeSeveral(bytes, info, options);
    return {
      draft: {
        framework,
        artifacts: { onnx: { file: ONNX_FILE } },
        task: several.task,
        architecture: 'imported',
        inputs: several.inputs,
        outputs: several.outputs,
        preprocessing: { kind: 'none' },
      },
      files: new Map([[ONNX_FILE, bytes]]),
    };
  }
  checkTensorInput(input);
  const output = pickOutput(info.outputs, options.output);
  if (output.kind !== 'tensor') {
    throw new MscrError('bad_data', `output ${output.name} is a ${output.kind}, not a tensor`);
  }
  const described = describe(input.shape ?? [], output.shape ?? [], info.classLabels, options);
  const [actual = []] = await tryRun(
    bytes,
    [{ info: input, shape: described.inputShape }],
    [output.name],
  );
  const outputShape = servedShape(output.shape, actual);
  const detection =
    described.task === 'object-detection'
      ? detectionOf(actual, described.labels?.length ?? 0)
      : undefined;
  return {
    draft: {
      framework,
      artifacts: { onnx: { file: ONNX_FILE, input: input.name, output: output.name } },
      task: described.task,
      architecture: 'imported',
      inputs: [
        { name: input.name, dtype: manifestDtype(input.elemType), shape: described.inputShape },
      ],
      outputs: [{ name: output.name, dtype: 'float32', shape: outputShape }],
      ...(described.labels ? { labels: described.labels } : {}),
      preprocessing: described.preprocessing,
      ...(detection ? { detection } : {}),
    },
    files: new Map([[ONNX_FILE, bytes]]),
  };
}
