export { fitModel } from './fit.ts';
export type { BatchAugmentation, FitOptions } from './fit.ts';
export { TrainingRun } from './run.ts';
export type { EpochProgress, TrainingEvent, TrainingListener, TrainingState } from './run.ts';
