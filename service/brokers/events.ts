/**
 * Events out, as the JSON both adapters publish (AMQP exchange `mscr.events`, routing key
 * `<model>.<type>`; MQTT topic `mscr/events/<model>`), one shape for all: `type`, `model`,
 * `at`, and what the type adds.
 *
 * - Model lifecycle: the reload manager's events, reduced to what other systems react to (a
 *   version loaded, a version failed to load, the serving version changed).
 * - Retraining outcomes: a run started, published a version, was rejected by the gate (with
 *   the gate's reason), or failed (with the error); `type` is `retraining.<outcome>`, so the
 *   AMQP routing key is `<model>.retraining.<outcome>` and `*.retraining.*` binds them all.
 */
import type { RetrainRun } from '../../connectors/sr/index.ts';
import type { ManagerEvent } from '../reload/manager.ts';

export type LifecycleEvent =
  | { type: 'loaded'; model: string; version: number; durationMs: number; at: string }
  | { type: 'failed'; model: string; version: number; error: string; retryInMs: number; at: string }
  | {
      type: 'serving';
      model: string;
      version: number | null;
      previous: number | null;
      at: string;
    };

export function lifecycleEventOf(
  event: ManagerEvent,
  now = new Date(),
): LifecycleEvent | undefined {
  const at = now.toISOString();
  switch (event.type) {
    case 'available':
      return {
        type: 'loaded',
        model: event.model,
        version: event.version,
        durationMs: event.durationMs,
        at,
      };
    case 'failed':
      return {
        type: 'failed',
        model: event.model,
        version: event.version,
        error: event.error,
        retryInMs: event.retryInMs,
        at,
      };
    case 'serving':
      return {
        type: 'serving',
        model: event.model,
        version: event.version ?? null,
        previous: event.previous ?? null,
        at,
      };
    default:
      return undefined;
  }
}

export type RetrainingOutcome = 'started' | 'published' | 'rejected' | 'failed';

export interface RetrainingEvent {
  type: `retraining.${RetrainingOutcome}`;
  model: string;
  runId: string;
  trigger: RetrainRun['trigger'];
  /** The gate's reason (published, rejected) or what failed. */
  reason?: string;
  /** The version published. */
  version?: number;
  /** The serving version's and the candidate's metrics on the same held-out data. */
  baseline?: RetrainRun['baseline'];
  candidate?: RetrainRun['candidate'];
  startedAt: string;
  finishedAt?: string;
  at: string;
}

export type BrokerEvent = LifecycleEvent | RetrainingEvent;

/** The event of a run record at `outcome` (`started` for a run just seen, else its end). */
export function retrainingEventOf(
  run: RetrainRun,
  outcome: RetrainingOutcome,
  now = new Date(),
): RetrainingEvent {
  return {
    type: `retraining.${outcome}`,
    model: run.model,
    runId: run.id,
    trigger: run.trigger,
    ...(outcome !== 'started' && run.message !== undefined ? { reason: run.message } : {}),
    ...(outcome === 'published' && run.published ? { version: run.published.version } : {}),
    ...(outcome !== 'started' && run.baseline ? { baseline: run.baseline } : {}),
    ...(outcome !== 'started' && run.candidate ? { candidate: run.candidate } : {}),
    startedAt: run.startedAt,
    ...(outcome !== 'started' && run.finishedAt ? { finishedAt: run.finishedAt } : {}),
    at: now.toISOString(),
  };
}
