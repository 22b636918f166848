import { MscrError } from '../../connectors/errors.ts';
import type { ModelTask } from '../../connectors/ms/manifest.ts';
import { cifar10Cnn } from './cifar10-cnn.ts';
import { denseNet } from './densenet.ts';
import { gridDetector } from './grid-detector.ts';
import { linearRegression, stockLstm } from './series.ts';
import type { Architecture } from './types.ts';

export type { Architecture, ArchitectureInput, TrainingDefaults } from './types.ts';

const architectures: readonly Architecture[] = [
  cifar10Cnn,
  denseNet,
  stockLstm,
  linearRegression,
  gridDetector,
];

/** Other names people use for the same builders. */
const aliases: Record<string, string> = {
  cnn: 'cifar10-cnn',
  'cifar10-densenet': 'densenet',
  lstm: 'stock-lstm',
  'stock-linear': 'linear',
  'linear-regression': 'linear',
  detector: 'grid-detector',
  'object-detection': 'grid-detector',
};

export function listArchitectures(): readonly Architecture[] {
  return architectures;
}

/** The builder for a name, or undefined. */
export function findArchitecture(name: string): Architecture | undefined {
  const canonical = aliases[name] ?? name;
  return architectures.find((a) => a.name === canonical);
}

export function getArchitecture(name: string): Architecture {
  const found = findArchitecture(name);
  if (!found) {
    const names = architectures.map((a) => a.name).join(', ');
    throw new MscrError(
      'config',
      `unknown architecture ${JSON.stringify(name)}; choose one of ${names}`,
    );
  }
  return found;
}

/** The builder each trainable task uses when none is named. */
export const DEFAULT_ARCHITECTURE: Partial<Record<ModelTask, string>> = {
  'image-classification': 'cifar10-cnn',
  'series-forecast': 'stock-lstm',
  'object-detection': 'grid-detector',
};

/**
 * The builder for a training run: the one named; else the task's default; else the one the
 * model is named after (`--model cifar10-cnn`). A named builder must fit the task.
 */
export function architectureFor(choice: {
  name?: string | undefined;
  task?: ModelTask | undefined;
  model: string;
}): Architecture {
  const { name, task, model } = choice;
  const fallback = task === undefined ? undefined : DEFAULT_ARCHITECTURE[task];
  if (task !== undefined && name === undefined && fallback === undefined) {
    throw new MscrError('config', `mscr cannot train ${task} models`);
  }
  const found = getArchitecture(name ?? fallback ?? model);
  if (task !== undefined && found.task !== task) {
    throw new MscrError(
      'config',
      `architecture ${found.name} trains ${found.task} models, not ${task}`,
    );
  }
  return found;
}
