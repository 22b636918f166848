/** The broker adapters' counters on `/metrics`, on the service's own registry. */
import client from 'prom-client';

export type BrokerKind = 'amqp' | 'mqtt';
export type BrokerOutcome =
  'consumed' | 'answered' | 'dead_lettered' | 'redelivered' | 'requeued' | 'duplicate';

export interface BrokerMetrics {
  count(broker: BrokerKind, model: string, outcome: BrokerOutcome): void;
  connected(broker: BrokerKind, up: boolean): void;
  latency(broker: BrokerKind, model: string, seconds: number): void;
  /** A retrain trigger message: a run started, a conflict answered, or dead-lettered. */
  trigger(broker: BrokerKind, model: string, outcome: TriggerOutcome): void;
  /** An event published (lifecycle or retraining), by type. */
  event(broker: BrokerKind, type: string): void;
}

export type TriggerOutcome = 'started' | 'conflict' | 'dead_lettered';

export function createBrokerMetrics(registry?: client.Registry): BrokerMetrics {
  const registers = registry ? [registry] : [];
  const messages = new client.Counter({
    name: 'mscr_broker_messages_total',
    help: 'Broker messages by adapter, model and outcome (consumed, answered, dead_lettered, redelivered, requeued, duplicate)',
    labelNames: ['broker', 'model', 'outcome'],
    registers,
  });
  const up = new client.Gauge({
    name: 'mscr_broker_connected',
    help: '1 while the adapter is connected to its broker',
    labelNames: ['broker'],
    registers,
  });
  const seconds = new client.Histogram({
    name: 'mscr_broker_handle_seconds',
    help: 'From a message arriving to its answer being confirmed by the broker',
    labelNames: ['broker', 'model'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const triggers = new client.Counter({
    name: 'mscr_broker_retrain_triggers_total',
    help: 'Retrain trigger messages by adapter, model and outcome (started, conflict, dead_lettered)',
    labelNames: ['broker', 'model', 'outcome'],
    registers,
  });
  const events = new client.Counter({
    name: 'mscr_broker_events_total',
    help: 'Events published (model lifecycle, retraining outcomes) by adapter and type',
    labelNames: ['broker', 'type'],
    registers,
  });
  return {
    trigger: (broker, model, outcome) => triggers.inc({ broker, model, outcome }),
    event: (broker, type) => events.inc({ broker, type }),
    count: (broker, model, outcome) => messages.inc({ broker, model, outcome }),
    connected: (broker, isUp) => up.set({ broker }, isUp ? 1 : 0),
    latency: (broker, model, s) => seconds.observe({ broker, model }, s),
  };
}
