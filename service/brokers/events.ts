/**
 * Model lifecycle events out: the reload manager's events, reduced to what other systems
 * react to (a version loaded, a version failed to load, the serving version changed), as the
 * JSON both adapters publish (AMQP exchange `mscr.events`, routing key `<model>.<type>`;
 * MQTT topic `mscr/events/<model>`).
 */
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
