/**
 * Several candidates per run (the MLM seed's "build several models, pick the best"): one
 * training per trial of the search, each recorded with its hyperparameters, held-out metrics
 * and duration; the best by the task's primary metric (accuracy for classifiers, rmse for
 * forecasters) is kept for the gate and the others are disposed of at once, never published.
 * Only one candidate besides the best is alive at any time.
 */
import { MscrError, errorMessage } from '../../connectors/errors.ts';
import {
  PRIMARY_METRIC,
  type Candidate,
  type CandidateRequest,
  type CandidateTrainer,
} from '../../connectors/mr/index.ts';
import type { Hyperparameters, TrialRecord } from '../../connectors/sr/train.ts';
import type { ProgressRecorder } from './progress.ts';

export interface CandidatesResult {
  best: Candidate;
  /** 1-based trial number of the best, when there were trials. */
  trial?: number;
  trials?: TrialRecord[];
}

/** Whether `a` beats `b` on `metric` (a missing or NaN value never beats anything). */
function better(a: number | undefined, b: number | undefined, higherIsBetter: boolean): boolean {
  if (a === undefined || Number.isNaN(a)) return false;
  if (b === undefined || Number.isNaN(b)) return true;
  return higherIsBetter ? a > b : a < b;
}

export async function trainCandidates(options: {
  trainer: CandidateTrainer;
  request: CandidateRequest;
  /** Hyperparameters of each trial, over the request's; undefined: one plain candidate. */
  trials: Hyperparameters[] | undefined;
  recorder: ProgressRecorder;
  say: (line: string) => void;
}): Promise<CandidatesResult> {
  const { trainer, request, recorder, say } = options;
  if (options.trials === undefined) {
    const best = await trainer.train({
      ...request,
      onEpoch: (e) => recorder.add({ type: 'epoch', trial: 1, ...e }),
    });
    return { best };
  }
  const records: TrialRecord[] = [];
  let best: { candidate: Candidate; trial: number; value: number | undefined } | undefined;
  let firstError: unknown;
  for (const [index, hyperparameters] of options.trials.entries()) {
    const trial = index + 1;
    say(`trial ${trial}/${options.trials.length}: ${JSON.stringify(hyperparameters)}`);
    recorder.add({
      type: 'state',
      message: `trial ${trial}/${options.trials.length}: ${JSON.stringify(hyperparameters)}`,
    });
    const started = performance.now();
    let candidate: Candidate;
    try {
      candidate = await trainer.train({
        ...request,
        ...hyperparameters,
        onEpoch: (e) => recorder.add({ type: 'epoch', trial, ...e }),
      });
    } catch (error) {
      firstError ??= error;
      const record: TrialRecord = {
        trial,
        hyperparameters,
        durationMs: Math.round(performance.now() - started),
        error: errorMessage(error),
      };
      records.push(record);
      recorder.add({ type: 'trial', record: { ...record } });
      say(`trial ${trial} failed: ${errorMessage(error)}`);
      continue;
    }
    const record: TrialRecord = {
      trial,
      hyperparameters,
      metrics: candidate.metrics,
      durationMs: Math.round(performance.now() - started),
    };
    records.push(record);
    recorder.add({ type: 'trial', record: { ...record } });
    await recorder.flush();
    const primary = PRIMARY_METRIC[candidate.draft.task];
    const value = candidate.metrics[primary.metric];
    say(`trial ${trial}: ${primary.metric} ${value ?? '-'}`);
    if (best === undefined || better(value, best.value, primary.higherIsBetter)) {
      best?.candidate.dispose();
      best = { candidate, trial, value };
    } else {
      candidate.dispose();
    }
  }
  if (best === undefined) {
    throw firstError instanceof MscrError
      ? firstError
      : new MscrError('internal', `every trial failed: ${errorMessage(firstError)}`);
  }
  for (const record of records) if (record.trial === best.trial) record.best = true;
  return { best: best.candidate, trial: best.trial, trials: records };
}
