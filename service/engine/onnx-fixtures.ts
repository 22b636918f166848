/**
 * Test support: small real ONNX models, written here with the ONNX protobuf schema
 * (`onnx-proto`) as any exporter writes them, and run by the real ONNX Runtime. The Service
 * may not import the Model layer's importer, and needs no Python for these.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
const FLOAT = 1;

function tensor(name: string, dims: number[], values: number[]): onnxProto.onnx.ITensorProto {
  return { name, dims, dataType: FLOAT, floatData: values };
}

function valueInfo(name: string, dims: (number | string)[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: FLOAT,
        shape: {
          dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })),
        },
      },
    },
  };
}

export interface DenseOnnxOptions {
  /** Input features (default 4) and classes (default 2). */
  features?: number;
  classes?: number;
  /** Row-major `[features, classes]` weights; default zeros. */
  weights?: number[];
  /** One bias per class. */
  bias: number[];
  /** Softmax on top (a classifier) or not (a regressor); default true. */
  softmax?: boolean;
  inputName?: string;
  outputName?: string;
  /** The default-domain opset the model imports; default 13. */
  opset?: number;
  /** Dimension names or sizes of the input after the batch (default [features]). */
  inputDims?: (number | string)[];
  /** The batch dimension: a name (dynamic, the default `N`) or a fixed size. */
  batch?: number | string;
}

/** `softmax(x W + b)`: input `[N, features]`, output `[N, classes]`. */
export function denseOnnx(options: DenseOnnxOptions): Uint8Array {
  const features = options.features ?? 4;
  const classes = options.classes ?? 2;
  const input = options.inputName ?? 'features';
  const output = options.outputName ?? 'probabilities';
  const softmax = options.softmax ?? true;
  const nodes: onnxProto.onnx.INodeProto[] = [
    { opType: 'MatMul', input: [input, 'W'], output: ['xw'], name: 'matmul' },
    { opType: 'Add', input: ['xw', 'B'], output: [softmax ? 'logits' : output], name: 'add' },
  ];
  if (softmax) {
    nodes.push({
      opType: 'Softmax',
      input: ['logits'],
      output: [output],
      name: 'softmax',
      attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 }],
    });
  }
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'mscr-test',
    producerVersion: '1',
    opsetImport: [{ domain: '', version: options.opset ?? 13 }],
    graph: {
      name: 'dense',
      node: nodes,
      initializer: [
        tensor('W', [features, classes], options.weights ?? new Array(features * classes).fill(0)),
        tensor('B', [classes], options.bias),
      ],
      input: [valueInfo(input, [options.batch ?? 'N', ...(options.inputDims ?? [features])])],
      output: [valueInfo(output, [options.batch ?? 'N', classes])],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/**
 * A 4-feature, 2-class ONNX classifier like `publishToyClassifier`'s: class `favour` always
 * wins by `margin`, so responses tell which version (or engine) answered.
 */
export function toyOnnxClassifier(favour: 0 | 1, margin = 2): Uint8Array {
  return denseOnnx({ bias: favour === 0 ? [margin, -margin] : [-margin, margin] });
}
