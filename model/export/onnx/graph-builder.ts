/**
 * A small ONNX graph builder over the generated protobuf types of `onnx-proto` (ONNX 1.10
 * schema, IR version 8): nodes, float/int64 initializers, typed graph inputs and outputs
 * with a symbolic batch dimension, and the encoded ModelProto bytes.
 */
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';

const { onnx } = onnxProto;

/** The ONNX operator set the exporter writes: opset 17 (ONNX 1.12), which onnxruntime 1.30 runs. */
export const ONNX_OPSET = 17;
/** IR version 8 is the one that goes with opset 17. */
const IR_VERSION = 8;
/** The name of the dynamic first dimension in inputs and outputs. */
export const BATCH_DIM = 'batch';

export type AttributeValue = number | string | number[] | string[] | { floats: number[] };

export interface NodeOptions {
  /** Integers by default; wrap floats as `{ floats: [...] }` and use `float()` for one float. */
  attributes?: Record<string, AttributeValue | FloatAttribute>;
  name?: string;
}

/** A float attribute (a plain number is written as an INT). */
export interface FloatAttribute {
  float: number;
}

export function float(value: number): FloatAttribute {
  return { float: value };
}

/** A graph input or output: its name and Keras-style shape (null = the dynamic batch). */
export interface GraphValueInfo {
  name: string;
  shape: readonly (number | null)[];
}

export interface GraphBuilder {
  /** A name not used yet in this graph, from a readable base. */
  uniqueName(base: string): string;
  /** Claims an exact name (a graph input or output); throws if it is taken. */
  reserve(name: string): void;
  /** Adds a node; returns its output names (fresh ones derived from the op unless given). */
  node(
    opType: string,
    inputs: readonly string[],
    outputs: number | readonly string[],
    options?: NodeOptions,
  ): string[];
  /** Adds one node with a single output and returns that output's name. */
  op(opType: string, inputs: readonly string[], options?: NodeOptions): string;
  floatInitializer(base: string, dims: readonly number[], values: Float32Array): string;
  int64Initializer(base: string, values: readonly number[]): string;
  /** Encodes the model with the given graph inputs and outputs. */
  encode(options: {
    graphName: string;
    inputs: readonly GraphValueInfo[];
    outputs: readonly GraphValueInfo[];
    docString?: string;
    producerVersion?: string;
  }): Uint8Array;
}

function attribute(
  name: string,
  value: AttributeValue | FloatAttribute,
): OnnxTypes.IAttributeProto {
  const type = onnx.AttributeProto.AttributeType;
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) {
      throw new Error(`attribute ${name}: ${value} is not an integer; use float()`);
    }
    return { name, type: type.INT, i: value };
  }
  if (typeof value === 'string') {
    return { name, type: type.STRING, s: new TextEncoder().encode(value) };
  }
  if (Array.isArray(value)) {
    if (value.every((v): v is string => typeof v === 'string')) {
      return { name, type: type.STRINGS, strings: value.map((v) => new TextEncoder().encode(v)) };
    }
    return { name, type: type.INTS, ints: value as number[] };
  }
  if ('float' in value) return { name, type: type.FLOAT, f: value.float };
  return { name, type: type.FLOATS, floats: value.floats };
}

function valueInfo(info: GraphValueInfo): OnnxTypes.IValueInfoProto {
  return {
    name: info.name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: {
          dim: info.shape.map((d) =>
            d === null || d < 0 ? { dimParam: BATCH_DIM } : { dimValue: d },
          ),
        },
      },
    },
  };
}

/** A fresh builder for one graph. */
export function createGraphBuilder(): GraphBuilder {
  const nodes: OnnxTypes.INodeProto[] = [];
  const initializers: OnnxTypes.ITensorProto[] = [];
  const used = new Set<string>();

  const uniqueName = (base: string): string => {
    const clean = base.replace(/[^A-Za-z0-9_./:-]/g, '_') || 'value';
    let name = clean;
    for (let n = 1; used.has(name); n++) name = `${clean}_${n}`;
    used.add(name);
    return name;
  };

  const node: GraphBuilder['node'] = (opType, inputs, outputs, options = {}) => {
    const base = options.name ?? opType;
    const outputNames =
      typeof outputs === 'number'
        ? Array.from({ length: outputs }, (_, i) => uniqueName(`${base}:${i}`))
        : outputs.map((o) => {
            used.add(o);
            return o;
          });
    nodes.push({
      opType,
      name: uniqueName(`${base}/${opType}`),
      input: [...inputs],
      output: outputNames,
      attribute: Object.entries(options.attributes ?? {}).map(([k, v]) => attribute(k, v)),
    });
    return outputNames;
  };

  return {
    uniqueName,
    reserve(name) {
      if (used.has(name)) throw new Error(`the name ${JSON.stringify(name)} is used twice`);
      used.add(name);
    },
    node,
    op(opType, inputs, options) {
      return node(opType, inputs, 1, options)[0] as string;
    },
    floatInitializer(base, dims, values) {
      const expected = dims.reduce((a, b) => a * b, 1);
      if (values.length !== expected) {
        throw new Error(
          `initializer ${base}: ${values.length} values for shape [${dims.join(', ')}]`,
        );
      }
      const name = uniqueName(base);
      // raw_data is little-endian; every platform Node runs this exporter on is little-endian.
      const raw = new Uint8Array(values.buffer, values.byteOffset, values.byteLength).slice();
      initializers.push({
        name,
        dims: [...dims],
        dataType: onnx.TensorProto.DataType.FLOAT,
        rawData: raw,
      });
      return name;
    },
    int64Initializer(base, values) {
      const name = uniqueName(base);
      const raw = new Uint8Array(BigInt64Array.from(values.map((v) => BigInt(v))).buffer);
      initializers.push({
        name,
        dims: [values.length],
        dataType: onnx.TensorProto.DataType.INT64,
        rawData: raw,
      });
      return name;
    },
    encode({ graphName, inputs, outputs, docString, producerVersion }) {
      const model = onnx.ModelProto.create({
        irVersion: IR_VERSION,
        opsetImport: [{ domain: '', version: ONNX_OPSET }],
        producerName: 'mscr',
        producerVersion: producerVersion ?? '',
        ...(docString ? { docString } : {}),
        graph: {
          name: graphName,
          node: nodes,
          initializer: initializers,
          input: inputs.map(valueInfo),
          output: outputs.map(valueInfo),
        },
      });
      return onnx.ModelProto.encode(model).finish();
    },
  };
}

/** Decodes ModelProto bytes (for tests and for checks of a written file). */
export function decodeModel(bytes: Uint8Array): OnnxTypes.ModelProto {
  return onnx.ModelProto.decode(bytes);
}
