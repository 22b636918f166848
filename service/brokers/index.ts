/**
 * Event-driven intake: broker adapters on the same data plane as HTTP (KServe's shape: one
 * data plane, one adapter per protocol). Each adapter is on when its URL is configured;
 * both consume per-model queues/topics, answer with the V2 response, and publish the model
 * lifecycle events. `createBrokers` wires them to the service; `stop()` drains them before
 * the models unload, so a message in flight is answered or redelivered, never lost.
 */
import type { RetrainLauncher } from '../../connectors/sr/index.ts';
import type { DataPlane } from '../dataplane/index.ts';
import type { Monitoring } from '../monitoring/index.ts';
import type { Logger } from '../observability/log.ts';
import type { DecodeLimits } from '../protocols/index.ts';
import type { Manager } from '../reload/manager.ts';
import type { ServedVersion } from '../dataplane/index.ts';
import { AmqpAdapter } from './amqp.ts';
import { lifecycleEventOf } from './events.ts';
import type { BrokerMetrics } from './metrics.ts';
import { MqttAdapter } from './mqtt.ts';
import type { AmqpSettings, MqttSettings } from './names.ts';
import type { RetrainTriggerOptions } from './retrain.ts';
import { createRunWatcher, type RunWatcher } from './run-watcher.ts';

export { AmqpAdapter, HEADERS } from './amqp.ts';
export { MqttAdapter } from './mqtt.ts';
export { createBrokerMetrics, type BrokerMetrics } from './metrics.ts';
export {
  lifecycleEventOf,
  retrainingEventOf,
  type BrokerEvent,
  type LifecycleEvent,
  type RetrainingEvent,
} from './events.ts';
export { createRunWatcher, type RunWatcher } from './run-watcher.ts';
export { AUTHORIZATION, RETRAIN_MAX_BYTES } from './retrain.ts';
export * from './names.ts';

export interface BrokersOptions {
  settings: { amqp: AmqpSettings; mqtt: MqttSettings; runPollMs: number };
  dataPlane: DataPlane;
  monitoring: Monitoring;
  manager: Manager<ServedVersion>;
  limits: DecodeLimits & { maxBodyBytes: number };
  logger: Logger;
  metrics: BrokerMetrics;
  drainTimeoutMs: number;
  /**
   * The retraining launcher: with it, retraining outcomes are evented and, when `adminToken`
   * is set too, the retrain queue/topic is consumed (the request trigger over a broker).
   */
  retrain?: RetrainLauncher;
  adminToken?: string;
}

export interface Brokers {
  readonly amqp: AmqpAdapter | undefined;
  readonly mqtt: MqttAdapter | undefined;
  /** Reads the run records for retraining events; undefined without a launcher or a broker. */
  readonly runs: RunWatcher | undefined;
  /** Starts the configured adapters (they connect and reconnect in the background). */
  start(): void;
  /** Stops consuming, answers what is in flight (up to the drain timeout), disconnects. */
  stop(): Promise<void>;
}

export function createBrokers(options: BrokersOptions): Brokers {
  const { settings, dataPlane } = options;
  const enabled = settings.amqp.url !== '' || settings.mqtt.url !== '';
  const launcher = options.retrain;
  const runs =
    launcher && enabled
      ? createRunWatcher({
          models: () => dataPlane.listModels(),
          runs: (model) => launcher.runs(model, { limit: 20 }),
          intervalMs: settings.runPollMs,
          onEvent: (event) => {
            amqp?.publishEvent(event);
            mqtt?.publishEvent(event);
          },
          onError: (model, error) =>
            options.logger.warn('cannot read the retraining runs', {
              model,
              error: (error as Error).message,
            }),
        })
      : undefined;
  // The trigger needs both: something to start runs with, and a token to check.
  const retrain: RetrainTriggerOptions | undefined =
    launcher && options.adminToken
      ? { launcher, adminToken: options.adminToken, dataPlane }
      : undefined;
  const common = {
    dataPlane,
    monitoring: options.monitoring,
    limits: options.limits,
    logger: options.logger,
    metrics: options.metrics,
    drainTimeoutMs: options.drainTimeoutMs,
    models: () => dataPlane.listModels(),
    ...(retrain ? { retrain, onRetrainStarted: () => void runs?.check() } : {}),
  };
  const amqp =
    settings.amqp.url !== '' ? new AmqpAdapter({ ...common, settings: settings.amqp }) : undefined;
  const mqtt =
    settings.mqtt.url !== '' ? new MqttAdapter({ ...common, settings: settings.mqtt }) : undefined;
  let unsubscribe: (() => void) | undefined;
  return {
    amqp,
    mqtt,
    runs,
    start() {
      if (!amqp && !mqtt) return;
      unsubscribe = options.manager.on((event) => {
        // A model that appears in the store gets its queue and topic.
        if (event.type === 'serving') {
          void amqp?.refresh();
          void mqtt?.refresh();
        }
        const lifecycle = lifecycleEventOf(event);
        if (lifecycle) {
          amqp?.publishEvent(lifecycle);
          mqtt?.publishEvent(lifecycle);
        }
      });
      amqp?.start();
      mqtt?.start();
      runs?.start();
    },
    async stop() {
      unsubscribe?.();
      runs?.stop();
      await Promise.all([amqp?.stop(), mqtt?.stop()]);
    },
  };
}
