/**
 * Retraining outcomes as events: reads the models' run records (SR connector, the same
 * records `/metrics` and `mscr retrain history` read) every `intervalMs` and reports each
 * change: a run seen for the first time (`started`), a run that ended (`published`,
 * `rejected`, `failed`). The records are the truth wherever the run happened (a child
 * process, a Kubernetes Job, a cron on another machine), so every run is evented, not only
 * the ones this replica started; nothing in the Retraining layer needs to know about brokers.
 *
 * The first read of a model is the baseline: runs already ended then are history, not
 * news; runs still going then report their end when it comes.
 */
import type { RetrainOutcome, RetrainRun } from '../../connectors/sr/index.ts';
import { retrainingEventOf, type RetrainingEvent } from './events.ts';

export interface RunWatcherOptions {
  models: () => readonly string[];
  /** A model's latest runs, newest first. */
  runs: (model: string) => Promise<RetrainRun[]>;
  intervalMs: number;
  onEvent: (event: RetrainingEvent) => void;
  onError?: (model: string, error: unknown) => void;
}

export interface RunWatcher {
  start(): void;
  stop(): void;
  /** One read of every model's runs now (after a trigger; tests). Reads never overlap. */
  check(): Promise<void>;
}

export function createRunWatcher(options: RunWatcherOptions): RunWatcher {
  /** Model -> run id -> the outcome last seen. */
  const seen = new Map<string, Map<string, RetrainOutcome>>();
  let timer: NodeJS.Timeout | undefined;
  let stopped = true;
  let checking: Promise<void> | undefined;

  const readModel = async (model: string): Promise<void> => {
    const runs = await options.runs(model);
    const before = seen.get(model);
    const now = new Map<string, RetrainOutcome>();
    // Oldest first, so events of one model come in the order the runs happened.
    for (const run of [...runs].reverse()) {
      now.set(run.id, run.outcome);
      if (before === undefined) continue;
      const previous = before.get(run.id);
      if (previous === run.outcome) continue;
      if (previous === undefined) options.onEvent(retrainingEventOf(run, 'started'));
      if (run.outcome !== 'running') options.onEvent(retrainingEventOf(run, run.outcome));
    }
    seen.set(model, now);
  };

  const check = (): Promise<void> =>
    (checking ??= (async () => {
      try {
        for (const model of options.models()) {
          try {
            await readModel(model);
          } catch (error) {
            options.onError?.(model, error);
          }
        }
      } finally {
        checking = undefined;
      }
    })());

  const loop = (): void => {
    if (stopped) return;
    void check().finally(() => {
      if (!stopped) timer = setTimeout(loop, options.intervalMs);
    });
  };

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      loop();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
    check,
  };
}
