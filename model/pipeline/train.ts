/**
 * The Model layer's pipeline: data -> features -> training -> evaluation -> versioned
 * export. One function, one options object; progress arrives as events. The training part
 * is `trainCandidate`; this publishes what it made.
 */
import type { ModelManifest } from '../../connectors/ms/manifest.ts';
import type { ModelStore } from '../../connectors/store/index.ts';
import type { BackendInfo } from '../../runtime/backend/index.ts';
import type { EpochProgress } from '../training/index.ts';
import { trainCandidate, type CandidateOptions } from './candidate.ts';
import type { TaskScore } from './task.ts';

export interface TrainOptions extends CandidateOptions {
  store: ModelStore;
  /** Point this alias at the new version once it is published. */
  alias?: string;
}

export interface TrainResult {
  manifest: ModelManifest;
  score: TaskScore;
  backend: BackendInfo;
  history: EpochProgress[];
}

export async function trainModel(options: TrainOptions): Promise<TrainResult> {
  const { store, alias, ...rest } = options;
  const candidate = await trainCandidate(rest);
  try {
    const manifest = await store.publish(candidate.draft, candidate.files, {
      ...(alias ? { alias } : {}),
    });
    return {
      manifest,
      score: candidate.score,
      backend: candidate.backend,
      history: candidate.history,
    };
  } finally {
    candidate.dispose();
  }
}
