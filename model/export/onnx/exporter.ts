/**
 * TF.js layers model -> ONNX ModelProto bytes. Walks the model's topology, converts each
 * layer with the converter for its class (conv-layers, core-layers, recurrent-layers), and keeps
 * the TF.js signature: inputs and outputs channels-last with a dynamic batch dimension,
 * named after the Keras input and output layers unless the caller names them.
 */
import * as tf from '@tensorflow/tfjs';
import { MscrError } from '../../../connectors/errors.ts';
import type { ConvertContext, Converter, LayerWeight, Value } from './context.ts';
import { convConverters } from './conv-layers.ts';
import { coreConverters } from './core-layers.ts';
import {
  createGraphBuilder,
  ONNX_OPSET,
  type GraphBuilder,
  type GraphValueInfo,
} from './graph-builder.ts';
import { recurrentConverters } from './recurrent-layers.ts';
import { TO_CHANNELS_FIRST, TO_CHANNELS_LAST } from './tensor-layout.ts';
import { readTopology } from './topology.ts';

const converters: Record<string, Converter> = {
  ...coreConverters,
  ...convConverters,
  ...recurrentConverters,
};

/** The TF.js layer classes the exporter converts. */
export const supportedLayerClasses: readonly string[] = Object.keys(converters).sort();

export interface OnnxExportOptions {
  /** Graph input names, in the model's input order (default: the Keras input layer names). */
  inputNames?: readonly string[];
  /** Graph output names, in the model's output order (default: the Keras output layer names). */
  outputNames?: readonly string[];
}

/** A layer's weights by role (`kernel`, `bias`, `moving_mean`, ...). */
function layerWeights(layer: tf.layers.Layer): Map<string, LayerWeight> {
  const variables = layer.weights;
  const tensors = layer.getWeights();
  const byRole = new Map<string, LayerWeight>();
  variables.forEach((variable, i) => {
    const tensor = tensors[i] as tf.Tensor;
    // originalName is 'layer/kernel'; the name may carry a uniqueness suffix ('kernel_2')
    // when the same model was loaded twice in one process.
    const full = variable.originalName ?? variable.name;
    const segments = full.split('/');
    const role = (segments.pop() ?? full).replace(/_\d+$/, '');
    const weight = {
      shape: [...tensor.shape],
      values: Float32Array.from(tensor.dataSync() as Float32Array),
    };
    byRole.set(role, weight);
    // A wrapper's inner layers: 'bidirectional/forward_lstm_LSTM1/kernel' is also
    // 'forward/kernel'.
    const inner = segments.length >= 2 ? segments[segments.length - 1] : undefined;
    if (inner) byRole.set(`${inner.split('_')[0]}/${role}`, weight);
  });
  return byRole;
}

function singleShape(layer: tf.layers.Layer): (number | null)[] {
  const shape = layer.outputShape;
  if (Array.isArray(shape[0])) {
    throw new MscrError(
      'bad_request',
      `layer '${layer.name}' (${layer.getClassName()}) has several outputs; the ONNX exporter supports one output per layer`,
    );
  }
  return [...(shape as (number | null)[])];
}

function unsupportedLayer(layer: tf.layers.Layer): MscrError {
  return new MscrError(
    'bad_request',
    `layer '${layer.name}' of type ${layer.getClassName()} cannot be exported to ONNX; supported layer types: ${supportedLayerClasses.join(', ')}`,
  );
}

/** Transposes between layouts, once per value and direction. */
function layoutCache(graph: GraphBuilder) {
  const cache = new Map<string, string>();
  const convert = (value: Value, target: Value['layout']): string => {
    if (value.layout === target || value.shape.length !== 4) return value.name;
    const cacheKey = `${value.name}->${target}`;
    let name = cache.get(cacheKey);
    if (!name) {
      const perm = target === 'channels-first' ? [...TO_CHANNELS_FIRST] : [...TO_CHANNELS_LAST];
      name = graph.op('Transpose', [value.name], {
        name: `${value.name}/${target}`,
        attributes: { perm },
      });
      cache.set(cacheKey, name);
    }
    return name;
  };
  return {
    channelsFirst: (value: Value) => convert(value, 'channels-first'),
    channelsLast: (value: Value) => convert(value, 'channels-last'),
  };
}

function checkNames(given: readonly string[] | undefined, count: number, what: string): void {
  if (given === undefined) return;
  if (given.length !== count || given.some((n) => typeof n !== 'string' || n === '')) {
    throw new MscrError(
      'config',
      `${what}: expected ${count} non-empty name(s), got ${JSON.stringify(given)}`,
    );
  }
  if (new Set(given).size !== given.length)
    throw new MscrError('config', `${what} must be distinct: ${given.join(', ')}`);
}

/**
 * Exports a TF.js layers model to ONNX (opset 17). Throws MscrError('bad_request') naming the
 * first layer (or layer option) the exporter cannot express.
 */
export function exportLayersModelToOnnx(
  model: tf.LayersModel,
  options: OnnxExportOptions = {},
): Uint8Array {
  if (!(model instanceof tf.LayersModel)) {
    throw new MscrError(
      'bad_request',
      'the ONNX exporter takes a TF.js LayersModel (tf.loadLayersModel / tf.sequential / tf.model)',
    );
  }
  const topology = readTopology(model);
  checkNames(options.inputNames, topology.inputs.length, 'ONNX input names');
  checkNames(options.outputNames, topology.outputs.length, 'ONNX output names');
  const inputNames = options.inputNames ?? topology.inputs.map((i) => i.name);
  const outputNames = options.outputNames ?? topology.outputs.map((o) => o.name);
  if (inputNames.some((n) => outputNames.includes(n))) {
    throw new MscrError(
      'config',
      `an ONNX input and output cannot share a name: ${inputNames.join(', ')} / ${outputNames.join(', ')}`,
    );
  }

  const graph = createGraphBuilder();
  // Reserve the signature's names so no intermediate tensor takes them.
  for (const name of [...inputNames, ...outputNames]) graph.reserve(name);
  const layouts = layoutCache(graph);
  const values = new Map<string, Value>();
  const graphInputs: GraphValueInfo[] = topology.inputs.map((input, i) => {
    const name = inputNames[i] as string;
    values.set(input.key, { name, layout: 'channels-last', shape: input.shape });
    return { name, shape: input.shape };
  });

  for (const step of topology.steps) {
    const { layer } = step;
    const className = layer.getClassName();
    const converter = converters[className];
    if (!converter) throw unsupportedLayer(layer);
    const inputs = step.inputKeys.map((k) => {
      const value = values.get(k);
      if (!value)
        throw new MscrError(
          'bad_request',
          `layer '${layer.name}' reads tensor ${k}, which no earlier layer produces`,
        );
      return value;
    });
    const weights = layerWeights(layer);
    const config = layer.getConfig() as Record<string, unknown>;
    const context: ConvertContext = {
      graph,
      name: layer.name,
      className,
      config,
      inputs,
      outputShape: singleShape(layer),
      weight: (role) => weights.get(role),
      requireWeight(role) {
        const found = weights.get(role);
        if (!found)
          throw new MscrError(
            'bad_request',
            `layer '${layer.name}' (${className}) has no ${role} weight`,
          );
        return found;
      },
      channelsFirst: layouts.channelsFirst,
      channelsLast: layouts.channelsLast,
      unsupported: (what) =>
        new MscrError(
          'bad_request',
          `layer '${layer.name}' (${className}): ${what} cannot be exported to ONNX`,
        ),
    };
    values.set(step.outputKey, converter(context));
  }

  const graphOutputs: GraphValueInfo[] = topology.outputs.map((output, i) => {
    const value = values.get(output.key);
    if (!value)
      throw new MscrError('bad_request', `model output ${output.key} is not produced by any layer`);
    const name = outputNames[i] as string;
    // The signature stays TF.js's: channels-last, under the chosen output name.
    graph.node('Identity', [layouts.channelsLast(value)], [name], { name: `${name}/output` });
    return { name, shape: value.shape };
  });

  return graph.encode({
    graphName: topology.name,
    inputs: graphInputs,
    outputs: graphOutputs,
    producerVersion: `tfjs-layers ${tf.version_layers}`,
    docString: `Exported by mscr from the TF.js layers model '${topology.name}' (ONNX opset ${ONNX_OPSET}); inputs and outputs keep TF.js's channels-last layout.`,
  });
}
