import { MscrError } from '../../connectors/errors.ts';
import { cifar10Cnn } from './cifar10-cnn.ts';
import { denseNet } from './densenet.ts';
import { linearRegression, stockLstm } from './series.ts';
import type { Architecture } from './types.ts';

export type { Architecture, ArchitectureInput, TrainingDefaults } from './types.ts';

const architectures: readonly Architecture[] = [cifar10Cnn, denseNet, stockLstm, linearRegression];

/** Other names people use for the same builders. */
const aliases: Record<string, string> = {
  cnn: 'cifar10-cnn',
  'cifar10-densenet': 'densenet',
  lstm: 'stock-lstm',
  'stock-linear': 'linear',
  'linear-regression': 'linear',
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
