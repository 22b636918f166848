import type * as tf from '@tensorflow/tfjs';
import { MscrError } from '../../connectors/errors.ts';
import type { ModelTask } from '../../connectors/ms/manifest.ts';

/** Hyper-parameters every architecture has a default for; the CLI may override each. */
export interface TrainingDefaults {
  epochs: number;
  batchSize: number;
  learningRate: number;
}

/** What the network is asked to learn: image classes, or the next value of a series. */
export type ArchitectureInput =
  | {
      task: 'image-classification';
      height: number;
      width: number;
      channels: number;
      classes: number;
    }
  | { task: 'series-forecast'; window: number; features: number }
  | {
      task: 'object-detection';
      height: number;
      width: number;
      channels: number;
      /** Object classes (the head has 5 + classes channels per grid cell). */
      classes: number;
    };

/**
 * A model builder: cheap to describe, does its work in `build()`. The registry maps the
 * names users type (`--model cifar10-cnn`, `--arch densenet`) to one of these.
 */
export interface Architecture {
  name: string;
  description: string;
  task: ModelTask;
  defaults: TrainingDefaults;
  build(input: ArchitectureInput): tf.LayersModel;
}

/** Narrows the input to the task an architecture was made for, or says why it cannot train. */
export function requireInput<T extends ArchitectureInput['task']>(
  input: ArchitectureInput,
  task: T,
  architecture: string,
): Extract<ArchitectureInput, { task: T }> {
  if (input.task !== task) {
    const does =
      task === 'image-classification'
        ? 'classifies images'
        : task === 'object-detection'
          ? 'detects objects'
          : 'forecasts series';
    throw new MscrError(
      'config',
      `${architecture} ${does}; it cannot be trained on ${input.task} data`,
    );
  }
  return input as Extract<ArchitectureInput, { task: T }>;
}
