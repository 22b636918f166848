/**
 * What a layer converter sees: the layer's configuration and weights, its input values in
 * the graph, and the graph builder. TF.js tensors are channels-last (NHWC); the ONNX
 * convolution and pooling ops are channels-first (NCHW). A value therefore records which
 * layout carries it, and converters ask for the layout they need: the exporter inserts a
 * Transpose only where the layout actually changes (once per value), so a conv stack stays
 * NCHW throughout and the graph's inputs and outputs keep the TF.js (NHWC) signature.
 */
import type { MscrError } from '../../../connectors/errors.ts';
import type { GraphBuilder } from './graph-builder.ts';

export type Layout = 'channels-last' | 'channels-first';

/** A tensor in the graph: its name, which layout carries it, and its Keras (channels-last) shape. */
export interface Value {
  name: string;
  layout: Layout;
  /** The Keras shape, batch first (null = dynamic). */
  shape: readonly (number | null)[];
}

export interface LayerWeight {
  shape: number[];
  values: Float32Array;
}

export interface ConvertContext {
  graph: GraphBuilder;
  /** The layer's name (for node and initializer names and for messages). */
  name: string;
  className: string;
  /** The layer's TF.js configuration (`layer.getConfig()`, camelCase keys). */
  config: Record<string, unknown>;
  inputs: readonly Value[];
  /** The layer's Keras output shape. */
  outputShape: readonly (number | null)[];
  /** A weight by its role (`kernel`, `bias`, `gamma`, ...); undefined if the layer lacks it. */
  weight(role: string): LayerWeight | undefined;
  /** Like weight(), but a missing weight is an error naming the layer. */
  requireWeight(role: string): LayerWeight;
  /** The value as a channels-first tensor name (rank-4 values only). */
  channelsFirst(value: Value): string;
  /** The value as a channels-last (TF.js layout) tensor name. */
  channelsLast(value: Value): string;
  /** An error for a configuration the exporter cannot express, naming the layer. */
  unsupported(what: string): MscrError;
}

/** Converts one layer: adds its nodes and returns its output value. */
export type Converter = (context: ConvertContext) => Value;

export function onlyInput(context: ConvertContext): Value {
  const [input] = context.inputs;
  if (!input || context.inputs.length !== 1) {
    throw context.unsupported(`${context.inputs.length} inputs (expected exactly one)`);
  }
  return input;
}

export function numberConfig(context: ConvertContext, key: string, fallback?: number): number {
  const value = context.config[key] ?? fallback;
  if (typeof value !== 'number')
    throw context.unsupported(`config ${key}=${JSON.stringify(value)}`);
  return value;
}

export function pairConfig(
  context: ConvertContext,
  key: string,
  fallback?: [number, number],
): [number, number] {
  const value = context.config[key] ?? fallback;
  if (typeof value === 'number') return [value, value];
  if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'number')) {
    return [value[0] as number, value[1] as number];
  }
  throw context.unsupported(`config ${key}=${JSON.stringify(value)}`);
}
