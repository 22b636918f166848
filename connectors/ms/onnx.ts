/**
 * MS connector: what an ONNX file says about itself, read from its `ModelProto` (the
 * `onnx-proto` schema, decoded with protobufjs) without running it. The importer uses it to
 * write a manifest; the runtime itself is only asked later whether it can run the graph.
 *
 * Only the header is interpreted: opsets, producer, graph inputs and outputs (element type
 * and dimensions, a named or missing dimension being dynamic), and the class labels that the
 * ONNX-ML classifiers carry (`classlabels_strings`, `classlabels_int64s`, `classlabels_ints`).
 */
import onnxProto from 'onnx-proto';
import { MscrError, errorMessage } from '../errors.ts';

const { onnx } = onnxProto;

/** ONNX `TensorProto.DataType` names, by number. */
const ELEM_TYPES: Record<number, string> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
};

export interface OnnxValueInfo {
  name: string;
  /** `tensor`, or what else the value is (`sequence`, `map`, ...): only tensors can be served. */
  kind: 'tensor' | 'sequence' | 'map' | 'optional' | 'sparse' | 'unknown';
  /** Element type (`float32`, `int64`, ...) for tensors. */
  elemType?: string;
  /** Dimensions; `-1` where the dimension is named (`batch`, `N`) or missing. */
  shape?: number[];
  /** The names of the symbolic dimensions by axis (`''` for fixed ones). */
  dimNames?: string[];
}

export interface OnnxModelInfo {
  irVersion: number;
  /** The default-domain (`ai.onnx`) opset; 0 if the model imports none. */
  opset: number;
  /** Every imported domain with its version (`ai.onnx.ml` 3, ...). */
  opsets: Record<string, number>;
  producer: string;
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  /** Class labels of the first ONNX-ML classifier node, as text. */
  classLabels?: string[];
  /** Operators used, as `domain:op` (`:Conv`, `ai.onnx.ml:TreeEnsembleClassifier`). */
  operators: string[];
}

function toNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (value !== null && typeof value === 'object' && 'toNumber' in value) {
    return (value as { toNumber(): number }).toNumber();
  }
  return Number(value);
}

function valueInfo(info: onnxProto.onnx.IValueInfoProto): OnnxValueInfo {
  const name = info.name ?? '';
  const type = info.type;
  if (type?.tensorType) {
    const elem = toNumber(type.tensorType.elemType ?? 0);
    const dims = type.tensorType.shape?.dim ?? [];
    return {
      name,
      kind: 'tensor',
      elemType: ELEM_TYPES[elem] ?? `type ${elem}`,
      shape: dims.map((d) =>
        d.dimValue !== undefined && d.dimValue !== null && toNumber(d.dimValue) > 0
          ? toNumber(d.dimValue)
          : -1,
      ),
      dimNames: dims.map((d) => d.dimParam ?? ''),
    };
  }
  const kind = type?.sequenceType
    ? 'sequence'
    : type?.mapType
      ? 'map'
      : type?.optionalType
        ? 'optional'
        : type?.sparseTensorType
          ? 'sparse'
          : 'unknown';
  return { name, kind };
}

// TreeEnsembleClassifier and SVMClassifier say int64s, LinearClassifier ints.
const LABEL_ATTRIBUTES = new Set(['classlabels_strings', 'classlabels_int64s', 'classlabels_ints']);

function classLabels(graph: onnxProto.onnx.IGraphProto): string[] | undefined {
  for (const node of graph.node ?? []) {
    for (const attribute of node.attribute ?? []) {
      if (!LABEL_ATTRIBUTES.has(attribute.name ?? '')) continue;
      const strings = (attribute.strings ?? []).map((s) => new TextDecoder().decode(s));
      const ints = (attribute.ints ?? []).map((i) => String(toNumber(i)));
      const labels = strings.length > 0 ? strings : ints;
      if (labels.length > 0) return labels;
    }
  }
  return undefined;
}

/**
 * Decodes an ONNX file's header. Throws `bad_data` with a message saying what is wrong when
 * the bytes are not an ONNX model (not protobuf, truncated, no graph).
 */
export function readOnnxModel(bytes: Uint8Array, where = 'the file'): OnnxModelInfo {
  if (bytes.byteLength === 0) throw new MscrError('bad_data', `${where} is empty`);
  let model: onnxProto.onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (error) {
    throw new MscrError(
      'bad_data',
      `${where} is not an ONNX model, or it is truncated: ${errorMessage(error)}`,
      { cause: error },
    );
  }
  const graph = model.graph;
  const irVersion = toNumber(model.irVersion ?? 0);
  if (!graph || irVersion < 1 || (graph.node ?? []).length === 0) {
    throw new MscrError(
      'bad_data',
      `${where} is not an ONNX model: it has no ir_version or no graph with nodes`,
    );
  }
  const opsets: Record<string, number> = {};
  for (const entry of model.opsetImport ?? []) {
    opsets[entry.domain || 'ai.onnx'] = toNumber(entry.version ?? 0);
  }
  // Before IR 4, weights were also listed as graph inputs; they are not inputs to feed.
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  const producer = [model.producerName, model.producerVersion].filter(Boolean).join(' ');
  const labels = classLabels(graph);
  return {
    irVersion,
    opset: opsets['ai.onnx'] ?? 0,
    opsets,
    producer,
    inputs: (graph.input ?? []).filter((i) => !initializers.has(i.name ?? '')).map(valueInfo),
    outputs: (graph.output ?? []).map(valueInfo),
    ...(labels ? { classLabels: labels } : {}),
    operators: [...new Set((graph.node ?? []).map((n) => `${n.domain ?? ''}:${n.opType ?? ''}`))],
  };
}
