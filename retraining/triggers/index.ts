/**
 * Triggers: when to run the retraining job. Each is small and knows nothing of training: it
 * calls `fire(trigger)`, and the caller runs the job (in this process, as a child process,
 * or as a Kubernetes Job). The store lease inside the job keeps simultaneous triggers from
 * ever running two jobs for one model; `guarded` also keeps one process from trying.
 *
 * - cron: a schedule with node-cron, in a single long-running process (the embedded
 *   default; in a cluster the chart's CronJob plays this part);
 * - threshold: polls the Service's signals and fires when an observer's threshold is crossed;
 * - request: the Service's `POST /mscr/models/{m}/retrain` or `mscr retrain trigger`.
 */
import cron from 'node-cron';
import { MscrError, errorMessage } from '../../connectors/errors.ts';
import type { ModelSignals, RetrainRun } from '../../connectors/sr/index.ts';
import {
  observe,
  type Observation,
  type ObserveContext,
  type ObserverPolicy,
} from '../observers/index.ts';

export type Fire = (trigger: RetrainRun['trigger']) => Promise<unknown>;

export interface Trigger {
  stop(): void;
}

/** Wraps `fire` so that one process never starts a second run while one is going. */
export function guarded(fire: Fire, onSkip?: (reason: string) => void): Fire {
  let running: Promise<unknown> | undefined;
  return async (trigger) => {
    if (running !== undefined) {
      onSkip?.(`a ${trigger.kind} trigger fired while a run is going; skipped`);
      return undefined;
    }
    running = fire(trigger).finally(() => (running = undefined));
    return running;
  };
}

export function startCronTrigger(options: {
  schedule: string;
  timezone?: string;
  fire: Fire;
  onError?: (error: unknown) => void;
}): Trigger {
  if (!cron.validate(options.schedule)) {
    throw new MscrError(
      'config',
      `invalid cron schedule ${JSON.stringify(options.schedule)}: use five or six fields, e.g. "0 3 * * *" for 03:00 daily`,
    );
  }
  const task = cron.schedule(
    options.schedule,
    async () => {
      try {
        await options.fire({ kind: 'cron', reason: `schedule ${options.schedule}` });
      } catch (error) {
        options.onError?.(error);
      }
    },
    { ...(options.timezone ? { timezone: options.timezone } : {}), noOverlap: true },
  );
  return { stop: () => void task.stop() };
}

export interface ThresholdOptions {
  /** Reads the Service's signals (over HTTP, `GET /mscr/models/{m}/signals`). */
  signals: () => Promise<ModelSignals>;
  /** The serving version's labels, reference and training time, for the observers. */
  context: (signals: ModelSignals) => Promise<ObserveContext>;
  policy: ObserverPolicy;
  intervalMs: number;
  /** After firing, wait this long before firing again (a rejected candidate changes nothing). */
  cooldownMs: number;
  fire: Fire;
  onObservation?: (observation: Observation, signals: ModelSignals) => void;
  onError?: (error: unknown) => void;
}

/** Polls the signals and fires when a threshold is crossed. `check` runs one poll (tests). */
export function startThresholdTrigger(
  options: ThresholdOptions,
): Trigger & { check(): Promise<Observation | undefined> } {
  let lastFired = -Infinity;
  let firedForVersion: number | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const check = async (): Promise<Observation | undefined> => {
    let signals: ModelSignals;
    try {
      signals = await options.signals();
    } catch (error) {
      options.onError?.(
        new MscrError('unavailable', `cannot read the service's signals: ${errorMessage(error)}`, {
          cause: error,
        }),
      );
      return undefined;
    }
    const observation = observe(signals, options.policy, await options.context(signals));
    options.onObservation?.(observation, signals);
    const cooling =
      Date.now() - lastFired < options.cooldownMs && firedForVersion === signals.version;
    if (observation.fire && !cooling) {
      lastFired = Date.now();
      firedForVersion = signals.version;
      try {
        await options.fire({ kind: 'threshold', reason: observation.reasons.join('; ') });
      } catch (error) {
        options.onError?.(error);
      }
    }
    return observation;
  };

  const loop = async (): Promise<void> => {
    if (stopped) return;
    await check();
    if (!stopped) timer = setTimeout(() => void loop(), options.intervalMs);
  };
  timer = setTimeout(() => void loop(), 0);
  return {
    check,
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
