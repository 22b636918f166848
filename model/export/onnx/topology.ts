/**
 * The order in which a TF.js layers model's layers run and which tensors feed each, read
 * from the model's own serialised topology (`model.toJSON`, the `model.json` structure):
 * a Sequential model is a chain; a functional model lists every layer with its inbound
 * nodes, in topological order. Tensors are keyed `layer:node:index`, as Keras names them.
 */
import type * as tf from '@tensorflow/tfjs';
import { MscrError } from '../../../connectors/errors.ts';

export interface TopologyInput {
  key: string;
  /** The graph input's default name: the Keras input layer's name. */
  name: string;
  shape: (number | null)[];
}

export interface TopologyStep {
  layer: tf.layers.Layer;
  inputKeys: string[];
  outputKey: string;
}

export interface Topology {
  name: string;
  inputs: TopologyInput[];
  steps: TopologyStep[];
  outputs: { key: string; name: string }[];
}

type InboundEntry = [string, number, number, ...unknown[]];

interface FunctionalConfig {
  name?: string;
  layers: {
    name: string;
    class_name: string;
    config: Record<string, unknown>;
    inbound_nodes: InboundEntry[][];
  }[];
  input_layers: [string, number, number][];
  output_layers: [string, number, number][];
}

const key = (layer: string, node = 0, index = 0) => `${layer}:${node}:${index}`;

function sequentialTopology(model: tf.LayersModel): Topology {
  const layers = model.layers;
  const first = layers[0];
  const shape = model.inputs[0]?.shape;
  if (!first || !shape)
    throw new MscrError('bad_request', `model ${model.name} has no layers or no input shape`);
  const inputName = `${first.name}_input`;
  let previous = key(inputName);
  const steps = layers.map((layer) => {
    const step = { layer, inputKeys: [previous], outputKey: key(layer.name) };
    previous = step.outputKey;
    return step;
  });
  const last = layers[layers.length - 1] as tf.layers.Layer;
  return {
    name: model.name,
    inputs: [{ key: key(inputName), name: inputName, shape: [...shape] }],
    steps,
    outputs: [{ key: previous, name: last.name }],
  };
}

function functionalTopology(model: tf.LayersModel): Topology {
  const json = model.toJSON(null, false) as unknown as { config?: FunctionalConfig };
  const config = json.config;
  if (!config || !Array.isArray(config.layers) || !Array.isArray(config.input_layers)) {
    throw new MscrError('bad_request', `model ${model.name}: its topology has no layers or inputs`);
  }
  const inputs: TopologyInput[] = [];
  const steps: TopologyStep[] = [];
  for (const entry of config.layers) {
    if (entry.class_name === 'InputLayer') {
      const shape = entry.config.batch_input_shape;
      if (!Array.isArray(shape))
        throw new MscrError('bad_request', `input layer ${entry.name} has no batch_input_shape`);
      inputs.push({ key: key(entry.name), name: entry.name, shape: shape as (number | null)[] });
      continue;
    }
    if (entry.inbound_nodes.length !== 1) {
      throw new MscrError(
        'bad_request',
        `layer '${entry.name}' (${entry.class_name}) is called ${entry.inbound_nodes.length} times; the ONNX exporter supports each layer being used once`,
      );
    }
    const node = entry.inbound_nodes[0] as InboundEntry[];
    steps.push({
      layer: model.getLayer(entry.name),
      inputKeys: node.map(([layer, nodeIndex, tensorIndex]) => key(layer, nodeIndex, tensorIndex)),
      outputKey: key(entry.name),
    });
  }
  const inputOrder = config.input_layers.map(([name, node, index]) => key(name, node, index));
  inputs.sort((a, b) => inputOrder.indexOf(a.key) - inputOrder.indexOf(b.key));
  return {
    name: config.name ?? model.name,
    inputs,
    steps,
    outputs: config.output_layers.map(([name, node, index]) => ({
      key: key(name, node, index),
      name,
    })),
  };
}

/** The model's layers in execution order, with their inputs; refuses what it cannot order. */
export function readTopology(model: tf.LayersModel): Topology {
  return model.getClassName() === 'Sequential'
    ? sequentialTopology(model)
    : functionalTopology(model);
}
