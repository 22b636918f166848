/** Model layer: the pipeline data -> features -> training -> evaluation -> versioned export. */
export { trainModel, type TrainOptions, type TrainResult } from './train.ts';
export { evaluateModel, type EvaluateOptions, type EvaluateResult } from './evaluate.ts';
export type { ClassifierReport, ForecastReport, TaskScore } from './task.ts';
export {
  createCandidateTrainer,
  trainCandidate,
  type CandidateOptions,
  type TrainedCandidate,
} from './candidate.ts';
