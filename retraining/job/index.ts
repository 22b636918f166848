/**
 * The retraining job: load the base data and the feedback collected so far, train a
 * candidate (optionally from the serving version's weights), score it and the serving
 * version on the same held-out data, and publish only if the gate passes. Every run leaves
 * a record, whatever happens; a lease in the store keeps two runs of one model apart.
 */
import { MscrError, errorMessage, isMscrError } from '../../connectors/errors.ts';
import {
  PRIMARY_METRIC,
  type CandidateTrainer,
  type ExtraDetection,
  type ExtraImage,
  type ExtraWindow,
} from '../../connectors/mr/index.ts';
import type { ModelManifest } from '../../connectors/ms/manifest.ts';
import type {
  FeedbackInput,
  FeedbackRecord,
  FeedbackStore,
  RetrainRun,
} from '../../connectors/sr/index.ts';
import { newRunId, type RunStore } from '../../connectors/sr/run-store.ts';
import type { ModelStore } from '../../connectors/store/index.ts';
import type { RolloutStore } from '../../connectors/store/rollout.ts';
import { startRollout } from '../../connectors/store/rollout-actions.ts';
import { decide, type GatePolicy } from '../gate/index.ts';
import type { SearchSpec } from '../../connectors/sr/train.ts';
import { trainCandidates } from './candidates.ts';
import { createProgressRecorder } from './progress.ts';
import { searchTrials } from './search.ts';

export interface RetrainOptions {
  model: string;
  store: ModelStore;
  runs: RunStore;
  trainer: CandidateTrainer;
  /** Base training data (paths or URIs). */
  data: string[];
  /** Labelled feedback to add; absent: none. */
  feedback?: FeedbackStore;
  /** Only feedback received since (ISO time). */
  feedbackSince?: string;
  trigger: RetrainRun['trigger'];
  /** The version the candidate must beat: this alias when it exists, else the latest. */
  servingAlias?: string;
  /** Move this alias to the new version when it is published. */
  alias?: string;
  /**
   * End in a rollout instead of taking the traffic at once: the published version becomes the
   * candidate of a canary (or shadow) against the version it beat, and the Service's
   * controller promotes or rolls it back on live evidence. Not with `alias`.
   */
  rollout?: {
    rollouts: RolloutStore;
    mode: 'canary' | 'shadow';
    weight?: number;
    steps?: number[];
    stepEveryMs?: number;
  };
  /** Start from the serving version's weights. */
  fromServing?: boolean;
  /** Gate: default metric per task (accuracy / rmse / map), tolerance 0. */
  gate?: Partial<GatePolicy>;
  training?: {
    architecture?: string;
    epochs?: number;
    batchSize?: number;
    learningRate?: number;
    limit?: number;
    seed?: number;
    testFraction?: number;
    backend?: 'auto' | 'tensorflow' | 'wasm' | 'cpu';
  };
  /**
   * Several candidates: one per trial of this search (within its budget), the best by the
   * task's primary metric gated; absent: one candidate.
   */
  search?: SearchSpec;
  /** Least time between two progress writes of the run record; default 500 ms. */
  progressIntervalMs?: number;
  /** Lease length: a crashed run blocks the model at most this long. Default 2 h. */
  leaseTtlMs?: number;
  /** A run id chosen by whoever launched the job (so it can answer before the job starts). */
  runId?: string;
  onProgress?: (line: string) => void;
}

/** What kind of failure a run ended with, for exit codes and messages. */
export function failureCode(error: unknown): string {
  return isMscrError(error) ? error.code : 'internal';
}

async function servingVersion(
  store: ModelStore,
  model: string,
  alias: string | undefined,
): Promise<number | undefined> {
  if (alias !== undefined) {
    const pointed = await store.getAlias(model, alias).catch((error: unknown) => {
      if (isMscrError(error, 'not_found')) return undefined;
      throw error;
    });
    if (pointed !== undefined) return pointed;
  }
  return store.latestVersion(model);
}

/**
 * The feedback records since `since`, each with its stored input, turned into training
 * examples by `pick` (undefined: not usable for this model), and how many records there were.
 */
async function feedbackExamples<T>(
  feedback: FeedbackStore,
  model: string,
  since: string | undefined,
  pick: (record: FeedbackRecord, input: FeedbackInput | undefined) => T | undefined,
): Promise<{ examples: T[]; records: number }> {
  const records = await feedback.list(model, since === undefined ? {} : { since });
  const examples: T[] = [];
  for (const record of records) {
    if (record.label === undefined && record.actual === undefined && record.boxes === undefined)
      continue;
    const example = pick(record, await feedback.readInput(record));
    if (example !== undefined) examples.push(example);
  }
  return { examples, records: records.length };
}

/** A labelled feedback image, as an extra training example. */
function feedbackImage(record: FeedbackRecord, input: FeedbackInput | undefined) {
  return record.label !== undefined && input?.kind === 'image'
    ? ({
        bytes: input.bytes,
        label: record.label,
        source: `feedback ${record.id}`,
      } satisfies ExtraImage)
    : undefined;
}

/**
 * A detector's labelled feedback image: the stored image and its true boxes, in that image's
 * pixels (an empty list says the image has no objects, and is a training example too).
 */
function feedbackDetection(record: FeedbackRecord, input: FeedbackInput | undefined) {
  return record.boxes !== undefined && input?.kind === 'image'
    ? ({
        bytes: input.bytes,
        boxes: record.boxes.map(({ box, label }) => ({ box: [...box], label })),
        source: `feedback ${record.id}`,
      } satisfies ExtraDetection)
    : undefined;
}

/**
 * A forecaster's fed-back day: the window it forecast from (the CSV the forecast route keeps:
 * a header of the model's columns, then the rows, oldest first) and the actual. Feedback
 * about a V1/V2 forecast keeps a scaled tensor instead; it is counted, not used.
 */
function feedbackWindow(record: FeedbackRecord, input: FeedbackInput | undefined) {
  if (record.actual === undefined || input?.kind !== 'csv') return undefined;
  const [header, ...lines] = input.text.trim().split('\n');
  const columns = (header ?? '').split(',');
  const rows = lines.map((line) => line.split(',').map(Number));
  return {
    columns,
    rows,
    actual: record.actual,
    source: `feedback ${record.id}`,
  } satisfies ExtraWindow;
}

/**
 * Runs one retraining job to its end and returns its record. A gate rejection is a normal
 * outcome (`rejected`); failures are recorded and then thrown as the `MscrError` they were.
 */
export async function runRetrain(options: RetrainOptions): Promise<RetrainRun> {
  const { model, store, runs, trainer } = options;
  if (options.rollout !== undefined && options.alias !== undefined) {
    throw new MscrError(
      'config',
      'a retraining run ends either in moving an alias or in a rollout: drop --alias (a promotion moves the stable alias)',
    );
  }
  const say = options.onProgress ?? (() => undefined);
  const id = options.runId ?? newRunId();
  const startedAt = new Date();
  const timings: Record<string, number> = {};
  const timed = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await work();
    } finally {
      timings[`${name}Ms`] = Math.round(performance.now() - started);
    }
  };
  const run: RetrainRun = {
    id,
    model,
    trigger: options.trigger,
    startedAt: startedAt.toISOString(),
    outcome: 'running',
    parameters: {
      data: options.data,
      ...options.training,
      ...(options.alias ? { alias: options.alias } : {}),
      ...(options.servingAlias ? { servingAlias: options.servingAlias } : {}),
      fromServing: options.fromServing === true,
      gate: options.gate ?? {},
      ...(options.search ? { search: options.search } : {}),
    },
    timings,
  };
  const trials = options.search ? searchTrials(options.search) : undefined;
  const lease = await runs.acquire(model, id, options.leaseTtlMs ?? 2 * 3_600_000);
  const recorder = createProgressRecorder(run, runs, {
    ...(options.progressIntervalMs !== undefined
      ? { minIntervalMs: options.progressIntervalMs }
      : {}),
    onError: (message) => say(`could not save the run record: ${message}`),
  });
  const tell = (line: string) => {
    say(line);
    recorder.add({ type: 'state', message: line });
  };
  try {
    await runs.save(run);
    const version = await servingVersion(store, model, options.servingAlias);
    const serving = version === undefined ? undefined : await store.readVersion(model, version);
    tell(
      serving
        ? `serving: ${model} version ${serving.manifest.version}`
        : `no version of ${model} is serving yet`,
    );
    if (trials !== undefined && options.search !== undefined) {
      tell(
        `search: ${options.search.mode}, ${trials.length} of ${options.search.trials} trials budgeted`,
      );
    }

    const forecaster = serving?.manifest.task === 'series-forecast';
    const detector = serving?.manifest.task === 'object-detection';
    const extra: {
      images: ExtraImage[];
      windows: ExtraWindow[];
      detections: ExtraDetection[];
      records: number;
    } = { images: [], windows: [], detections: [], records: 0 };
    if (options.feedback) {
      const store = options.feedback;
      const since = options.feedbackSince;
      await timed('feedback', async () => {
        if (forecaster) {
          const found = await feedbackExamples(store, model, since, feedbackWindow);
          Object.assign(extra, { windows: found.examples, records: found.records });
          say(`feedback: ${found.records} records, ${found.examples.length} fed-back days`);
        } else if (detector) {
          const found = await feedbackExamples(store, model, since, feedbackDetection);
          Object.assign(extra, { detections: found.examples, records: found.records });
          say(`feedback: ${found.records} records, ${found.examples.length} images with boxes`);
        } else {
          const found = await feedbackExamples(store, model, since, feedbackImage);
          Object.assign(extra, { images: found.examples, records: found.records });
          say(`feedback: ${found.records} records, ${found.examples.length} labelled images`);
        }
      });
    }

    const trained = await timed('training', () =>
      trainCandidates({
        trainer,
        request: {
          model,
          data: options.data,
          ...options.training,
          ...(options.training?.architecture === undefined && serving
            ? { architecture: serving.manifest.architecture }
            : {}),
          ...(extra.images.length > 0 ? { extraImages: extra.images } : {}),
          ...(extra.windows.length > 0 ? { extraWindows: extra.windows } : {}),
          ...(extra.detections.length > 0 ? { extraDetections: extra.detections } : {}),
          ...(options.fromServing && serving ? { startFrom: serving } : {}),
          onProgress: say,
        },
        trials,
        recorder,
        say,
      }),
    );
    const candidate = trained.best;
    if (trained.trials) run.trials = trained.trials;
    try {
      run.inputs = {
        sources: candidate.draft.data.sources,
        fingerprint: candidate.fingerprint,
        feedbackRecords: extra.records,
      };
      run.candidate = {
        metrics: candidate.metrics,
        ...(trained.trial !== undefined ? { trial: trained.trial } : {}),
      };
      const primary = PRIMARY_METRIC[candidate.draft.task];
      const policy: GatePolicy = {
        metric: options.gate?.metric ?? primary.metric,
        higherIsBetter:
          options.gate?.higherIsBetter ??
          (options.gate?.metric === undefined || options.gate.metric === primary.metric
            ? primary.higherIsBetter
            : true),
        tolerance: options.gate?.tolerance ?? 0,
        ...(options.gate?.minHeldOut !== undefined ? { minHeldOut: options.gate.minHeldOut } : {}),
      };
      let baseline: { version: number; metrics: Record<string, number> } | undefined;
      if (serving) {
        const metrics = await timed('baseline', () =>
          candidate.scoreVersion(serving.manifest, serving.files),
        );
        baseline = { version: serving.manifest.version, metrics };
        run.baseline = baseline;
      }
      const heldOut = candidate.draft.training.testSamples;
      const decision = decide(candidate.metrics, baseline, policy, heldOut);
      tell(`gate: ${decision.reason}`);
      run.message = decision.reason;
      if (decision.pass) {
        const published: ModelManifest = await timed('publish', () =>
          store.publish(candidate.draft, candidate.files, {
            ...(options.alias ? { alias: options.alias } : {}),
          }),
        );
        run.published = {
          version: published.version,
          ...(options.alias ? { alias: options.alias } : {}),
        };
        run.outcome = 'published';
        say(
          `published ${model} version ${published.version}${options.alias ? ` (${options.alias})` : ''}`,
        );
        if (options.rollout !== undefined) {
          await startCanary(options, run, published.version, baseline?.version, say);
        }
      } else {
        run.outcome = 'rejected';
      }
    } finally {
      candidate.dispose();
    }
  } catch (error) {
    run.outcome = 'failed';
    run.message = errorMessage(error);
    throw error instanceof MscrError
      ? error
      : new MscrError('internal', errorMessage(error), { cause: error });
  } finally {
    run.finishedAt = new Date().toISOString();
    timings.totalMs = Date.now() - startedAt.getTime();
    // The record must survive a failing store write as little as the run did: report both.
    // Through the recorder, so no progress write still in flight can land after this one.
    await recorder.flush();
    await runs.release(lease).catch(() => undefined);
  }
  return run;
}

/**
 * The end of a run that passed the gate, under `rollout`: a canary (or shadow) of the new
 * version against the one it beat. A rollout that cannot start (another one runs) leaves the
 * version published but without traffic under `alias:stable`; the record says why.
 */
async function startCanary(
  options: RetrainOptions,
  run: RetrainRun,
  candidate: number,
  stable: number | undefined,
  say: (line: string) => void,
): Promise<void> {
  const plan = options.rollout;
  if (plan === undefined) return;
  try {
    const state = await startRollout(
      { store: options.store, rollouts: plan.rollouts },
      {
        model: options.model,
        mode: plan.mode,
        candidate,
        ...(stable !== undefined ? { stable } : {}),
        ...(plan.weight !== undefined ? { weight: plan.weight } : {}),
        ...(plan.steps !== undefined ? { steps: plan.steps } : {}),
        ...(plan.stepEveryMs !== undefined ? { stepEveryMs: plan.stepEveryMs } : {}),
      },
      `retraining run ${run.id}`,
    );
    run.rollout = {
      mode: state.mode,
      weight: state.weight,
      stable: state.stable,
      candidate: state.candidate,
    };
    const share = state.mode === 'canary' ? ` at ${state.weight} %` : '';
    run.message = `${run.message ?? ''}; started a ${state.mode}${share} of version ${candidate} against ${state.stable}`;
    say(`started a ${state.mode}${share} of version ${candidate} against version ${state.stable}`);
  } catch (error) {
    run.message = `${run.message ?? ''}; the rollout did not start: ${errorMessage(error)}`;
    say(`the rollout did not start: ${errorMessage(error)}`);
  }
}
