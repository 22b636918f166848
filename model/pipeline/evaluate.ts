/** Scores a published version on data it has not seen, with its own manifest's preprocessing. */
import * as tf from '@tensorflow/tfjs';
import type { ModelManifest } from '../../connectors/ms/manifest.ts';
import type { ModelStore } from '../../connectors/store/index.ts';
import {
  initBackend,
  type BackendInfo,
  type BackendPreference,
} from '../../runtime/backend/index.ts';
import { modelFromFiles } from '../../connectors/ms/artifacts.ts';
import type { TaskScore } from './task.ts';
import { taskFor } from './tasks.ts';

export interface EvaluateOptions {
  store: ModelStore;
  model: string;
  /** A version number, `latest` (default) or an alias. */
  version?: number | string;
  data: string[];
  limit?: number;
  backend?: BackendPreference;
}

export interface EvaluateResult {
  manifest: ModelManifest;
  score: TaskScore;
  summary: string;
  backend: BackendInfo;
}

export async function evaluateModel(options: EvaluateOptions): Promise<EvaluateResult> {
  const backend = await initBackend(options.backend ?? 'auto');
  const version = await options.store.resolve(options.model, options.version ?? 'latest');
  const { manifest, files } = await options.store.readVersion(options.model, version);
  const task = taskFor(manifest.task);
  const model = await modelFromFiles(files);
  const data = await task.prepareEvaluation(manifest, {
    sources: options.data,
    ...(options.limit === undefined ? {} : { limit: options.limit }),
  });
  try {
    const score = await task.score(model, data.x, data.y, manifest);
    return { manifest, score, summary: data.summary, backend };
  } finally {
    model.dispose();
    tf.dispose([data.x, data.y]);
  }
}
